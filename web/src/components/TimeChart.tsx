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

export function TimeChart({ series, label, height = 240 }: { series: Series[]; label: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      height,
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: "#4b5563", attributionLogo: false },
      grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
      timeScale: { timeVisible: true, secondsVisible: true },
      rightPriceScale: { borderVisible: false },
    });
    chart.current = c;
    return () => {
      c.remove();
      chart.current = null;
    };
  }, [height]);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const added = series.map((s) => {
      const line = s.area
        ? c.addSeries(AreaSeries, { lineColor: s.color, topColor: `${s.color}55`, bottomColor: `${s.color}05`, lineWidth: 2, title: s.name })
        : c.addSeries(LineSeries, { color: s.color, lineWidth: 2, title: s.name });
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
