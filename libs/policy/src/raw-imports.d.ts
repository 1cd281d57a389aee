// Vite's `?raw` imports (used by the spec files to read the example policies without Node APIs).
declare module '*.yaml?raw' {
  const text: string;
  export default text;
}
