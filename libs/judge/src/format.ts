// Number formatting for the plain-English explanations.

/** A relative change as a percentage without sign: 0.38 -> "38%", 0.024 -> "2.4%", 0.0031 -> "0.31%". */
export function formatPercentMagnitude(fraction: number): string {
  const pct = Math.abs(fraction) * 100;
  if (pct === 0) return '0%';
  if (pct >= 10) return `${Math.round(pct)}%`;
  if (pct >= 1) return `${trimZeros(pct.toFixed(1))}%`;
  return `${trimZeros(pct.toPrecision(2))}%`;
}

/** A relative change as a signed percentage: -0.012 -> "-1.2%", 0.04 -> "+4%". */
export function formatSignedPercent(fraction: number): string {
  if (fraction === 0) return '0%';
  return `${fraction < 0 ? '-' : '+'}${formatPercentMagnitude(fraction)}`;
}

/** A metric value to three significant digits: 13.847 -> "13.8", 0.000123456 -> "0.000123". */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e-4 && abs < 1e15) return String(Number(value.toPrecision(3)));
  return value.toExponential(2);
}

/** A probability or e-value: 0.000120 -> "0.00012", 1234.5 -> "1.23e+3". */
export function formatStatistic(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'infinite' : String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e4)) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

/** "90%" for 0.9, "95.2%" for 0.952. */
export function formatLevel(level: number): string {
  return `${trimZeros((level * 100).toFixed(1))}%`;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
