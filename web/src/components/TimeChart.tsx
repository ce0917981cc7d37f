// Time series with lightweight-charts: one or more lines (or an area) over UTC time.
import { useEffect, useRef } from "react";
import { AreaSeries, ColorType, createChart, LineSeries, type IChartApi, type UTCTimestamp } from "lightweight-charts";

export interface Series {
  name: string;
  color: string;
  points: { time: string | number; value: number }[];
  area?: boolean;
}

/** Seconds since the epoch, strictly increasing (the chart requires it): later duplicates win. */
export function toChartData(points: { time: string | number; value: number }[]) {
  const bySecond = new Map<number, number>();
  for (const p of points) {
    const t = typeof p.time === "number" ? p.time : Math.floor(new Date(p.time).getTime() / 1000);
    if (Number.isFinite(t) && Number.isFinite(p.value)) bySecond.set(t, p.value);
  }
  return [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time: time as UTCTimestamp, value }));
}

/** A colour the canvas can use: CSS variables ("var(--accent)") are read off the page. */
function paint(color: string): string {
  const name = color.match(/^var\((--[\w-]+)\)$/)?.[1];
  if (!name || typeof getComputedStyle !== "function") return color;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888888";
}

/** "#2563eb" → "rgba(37, 99, 235, a)" (area fills); other forms are returned as they are. */
function fade(color: string, alpha: number): string {
  const hex = color.match(/^#([0-9a-f]{6})$/i)?.[1];
  if (!hex) return color;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

let canvasWorks: boolean | null = null;
/** Whether this browser can draw on a canvas (not every one can: a test DOM, some locked-down ones). */
function canDraw(): boolean {
  if (canvasWorks === null) {
    try {
      canvasWorks = !!document.createElement("canvas").getContext("2d");
    } catch {
      canvasWorks = false;
    }
  }
  return canvasWorks;
}

export function TimeChart({ series, label, height = 240 }: { series: Series[]; label: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const drawable = canDraw();
  useEffect(() => {
    if (!box.current || !drawable) return;
    const c = createChart(box.current, {
      height,
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: paint("var(--muted)"), attributionLogo: false },
      grid: { vertLines: { color: paint("var(--grid)") }, horzLines: { color: paint("var(--grid)") } },
      localization: { locale: navigator.language || "en" },
      timeScale: { timeVisible: true, secondsVisible: true },
      rightPriceScale: { borderVisible: false },
    });
    chart.current = c;
    return () => {
      c.remove();
      chart.current = null;
    };
  }, [height, drawable]);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const added = series.map((s) => {
      const color = paint(s.color);
      const line = s.area
        ? c.addSeries(AreaSeries, { lineColor: color, topColor: fade(color, 0.33), bottomColor: fade(color, 0.02), lineWidth: 2, title: s.name })
        : c.addSeries(LineSeries, { color, lineWidth: 2, title: s.name });
      line.setData(toChartData(s.points));
      return line;
    });
    c.timeScale().fitContent();
    return () => {
      if (chart.current !== c) return; // the chart itself is gone (unmounting), and its series with it
      for (const line of added) c.removeSeries(line);
    };
  }, [series]);
  return (
    <figure className="chart">
      <figcaption>
        {label}
        {series.length > 1 && (
          <span className="legend">
            {series.map((s) => (
              <span key={s.name}>
                <i style={{ background: s.color }} /> {s.name}
              </span>
            ))}
          </span>
        )}
      </figcaption>
      <div ref={box} role="img" aria-label={label} style={{ height }} />
    </figure>
  );
}
