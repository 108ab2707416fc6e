/** A tiny inline line chart of `values` (oldest first); nothing when fewer than two points. */
export function Sparkline({ values, label, width = 80, height = 20 }: { values: readonly number[]; label: string; width?: number; height?: number }) {
  if (values.length < 2) return <span className="muted" aria-label={label}>·</span>;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const step = width / (values.length - 1);
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((v - min) / span) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return (
    <svg className="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
    </svg>
  );
}
