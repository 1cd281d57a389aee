/**
 * A time-series chart with uPlot: x in unix seconds, one line per series, null = no point
 * (gaps are not bridged). The chart follows its container's width and is rebuilt only when the
 * set of series changes; new data goes through `setData`.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatBytes, formatNumber } from './series.model.js';

export type AxisFormat = 'number' | 'bytes' | 'percent' | 'rate' | 'ratio';

export interface ChartSeries {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color?: string | undefined;
  readonly dash?: readonly number[];
  readonly width?: number;
  /** Draw a dot at every point (default: uPlot decides by density). */
  readonly points?: boolean;
}

/** Colour-blind-safe palette (Okabe-Ito), in order. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

function formatValue(format: AxisFormat, value: number | null): string {
  if (value === null) return '–';
  switch (format) {
    case 'bytes':
      return formatBytes(value);
    case 'percent':
      return `${formatNumber(value)} %`;
    case 'rate':
      return `${formatNumber(value)}/s`;
    case 'ratio':
      return `×${formatNumber(value)}`;
    case 'number':
      return formatNumber(value);
  }
}

export function TimeChart(props: {
  readonly xs: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly format: AxisFormat;
  readonly height?: number;
  /** Vertical markers (unix seconds) with a label, e.g. where the judged window starts. */
  readonly markers?: readonly { readonly at: number; readonly label: string }[];
  readonly testId?: string;
}): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  /** The data uPlot holds now. */
  const shown = useRef<uPlot.AlignedData | null>(null);
  const shape = props.series.map((s) => `${s.label}|${s.color ?? ''}`).join('\n') + `|${props.format}|${JSON.stringify(props.markers ?? [])}`;
  const data = [props.xs as number[], ...props.series.map((s) => s.values as (number | null)[])] as uPlot.AlignedData;
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const markers = props.markers ?? [];
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: props.height ?? 220,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { size: 70, values: (_u, ticks) => ticks.map((t) => formatValue(props.format, t)) }],
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length] ?? '#000',
          width: s.width ?? 1.5,
          ...(s.dash ? { dash: [...s.dash] } : {}),
          ...(s.points === false ? { points: { show: false } } : {}),
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => formatValue(props.format, v),
        })),
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            const ctx = u.ctx;
            markers.forEach((m, i) => {
              const x = Math.round(u.valToPos(m.at, 'x', true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
              ctx.save();
              ctx.strokeStyle = '#888';
              ctx.setLineDash([4, 4]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillStyle = '#555';
              ctx.font = `${Math.round(11 * devicePixelRatio)}px sans-serif`;
              // Markers close together get their labels on separate lines.
              ctx.fillText(m.label, x + 4, u.bbox.top + 12 * devicePixelRatio * (i + 1));
              ctx.restore();
            });
          },
        ],
      },
    };
    const chart = new uPlot(options, dataRef.current, element);
    plot.current = chart;
    shown.current = dataRef.current;
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height: props.height ?? 220 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Rebuilt when the series set, format, height or markers change; data alone goes through setData.
  }, [shape, props.height]);

  useEffect(() => {
    const chart = plot.current;
    if (!chart) return;
    // Parents re-render every second (clocks); only hand uPlot data that actually changed.
    const previous = shown.current;
    if (previous !== null && previous.length === data.length && previous.every((column, i) => column === data[i])) return;
    shown.current = data;
    chart.setData(data);
  });

  return <div ref={box} className="chart" data-testid={props.testId} data-points={props.xs.length} />;
}
