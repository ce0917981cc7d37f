// Sizing mode and its one parameter, as CopySettings fields.
import type { CopySettings } from "../api";

export const SIZING_MODES: { mode: string; label: string; field?: keyof CopySettings; fieldLabel?: string }[] = [
  { mode: "SIZING_MODE_MULTIPLIER", label: "Multiplier of the master's quantity", field: "multiplier", fieldLabel: "Multiplier" },
  { mode: "SIZING_MODE_FIXED_NOTIONAL", label: "Fixed notional per trade", field: "fixedNotional", fieldLabel: "Notional (quote currency)" },
  { mode: "SIZING_MODE_FIXED_QUANTITY", label: "Fixed quantity per trade", field: "fixedQuantity", fieldLabel: "Quantity" },
  { mode: "SIZING_MODE_EQUITY_PROPORTIONAL", label: "Proportional to equity", field: "allocatedCapital", fieldLabel: "Allocated capital (blank: all)" },
  { mode: "SIZING_MODE_RISK_PERCENT", label: "Risk percent per trade", field: "riskPercent", fieldLabel: "Risk percent (0.01 = 1%)" },
];

export function SizingFields({ settings, onChange, idPrefix }: { settings: CopySettings; onChange: (s: CopySettings) => void; idPrefix: string }) {
  const mode = SIZING_MODES.find((m) => m.mode === settings.sizingMode) ?? SIZING_MODES[0];
  return (
    <>
      <label htmlFor={`${idPrefix}-mode`}>
        Sizing
        <select id={`${idPrefix}-mode`} value={mode.mode} onChange={(e) => onChange({ ...settings, sizingMode: e.target.value })}>
          {SIZING_MODES.map((m) => (
            <option key={m.mode} value={m.mode}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {mode.field && (
        <label htmlFor={`${idPrefix}-value`}>
          {mode.fieldLabel}
          <input
            id={`${idPrefix}-value`}
            inputMode="decimal"
            value={(settings[mode.field] as string | undefined) ?? ""}
            onChange={(e) => onChange({ ...settings, [mode.field!]: e.target.value })}
          />
        </label>
      )}
    </>
  );
}

/** The settings with only the chosen mode's parameter (blank fields left out). */
export function cleanSizing(settings: CopySettings): CopySettings {
  const mode = SIZING_MODES.find((m) => m.mode === settings.sizingMode) ?? SIZING_MODES[0];
  const out: CopySettings = { ...settings, sizingMode: mode.mode };
  for (const m of SIZING_MODES) if (m.field && m.field !== mode.field) delete out[m.field];
  if (mode.field && !String(out[mode.field] ?? "").trim()) delete out[mode.field];
  return out;
}
