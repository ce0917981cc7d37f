// How big each copy is: the sizing mode and its one figure, as CopySettings fields.
import type { CopySettings } from "../api";
import { SelectField, TextField } from "./Field";

export const SIZING_MODES: { mode: string; label: string; field?: keyof CopySettings; api?: string; fieldLabel?: string; hint?: string }[] = [
  { mode: "SIZING_MODE_MULTIPLIER", label: "A multiple of the master's quantity", field: "multiplier", api: "multiplier", fieldLabel: "Multiplier", hint: "0.5 copies half of each trade, 2 twice it" },
  { mode: "SIZING_MODE_FIXED_NOTIONAL", label: "The same amount of money per trade", field: "fixedNotional", api: "fixed_notional", fieldLabel: "Amount per trade (USDT)" },
  { mode: "SIZING_MODE_FIXED_QUANTITY", label: "The same quantity per trade", field: "fixedQuantity", api: "fixed_quantity", fieldLabel: "Quantity per trade" },
  { mode: "SIZING_MODE_EQUITY_PROPORTIONAL", label: "In proportion to your equity", field: "allocatedCapital", api: "allocated_capital", fieldLabel: "Capital for this copy (USDT, blank: all)" },
  { mode: "SIZING_MODE_RISK_PERCENT", label: "A share of your equity at risk", field: "riskPercent", api: "risk_percent", fieldLabel: "Risk per trade (0.01 = 1%)" },
];

export function SizingFields({ settings, onChange, error }: { settings: CopySettings; onChange: (s: CopySettings) => void; idPrefix?: string; error?: unknown }) {
  const mode = SIZING_MODES.find((m) => m.mode === settings.sizingMode) ?? SIZING_MODES[0];
  return (
    <>
      <SelectField label="Size each copy as" name="sizing_mode" value={mode.mode} error={error} onChange={(v) => onChange({ ...settings, sizingMode: v })}>
        {SIZING_MODES.map((m) => (
          <option key={m.mode} value={m.mode}>
            {m.label}
          </option>
        ))}
      </SelectField>
      {mode.field && (
        <TextField
          label={mode.fieldLabel}
          name={mode.api!}
          inputMode="decimal"
          hint={mode.hint}
          error={error}
          value={(settings[mode.field] as string | undefined) ?? ""}
          onChange={(v) => onChange({ ...settings, [mode.field!]: v })}
        />
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

/** "0.5 × the master's quantity", in words for the review step and the copy's card. */
export function describeSizing(settings: CopySettings | undefined): string {
  const s = settings ?? {};
  switch (s.sizingMode) {
    case "SIZING_MODE_FIXED_NOTIONAL":
      return `${s.fixedNotional ?? "?"} USDT per trade`;
    case "SIZING_MODE_FIXED_QUANTITY":
      return `${s.fixedQuantity ?? "?"} per trade`;
    case "SIZING_MODE_EQUITY_PROPORTIONAL":
      return s.allocatedCapital ? `in proportion to ${s.allocatedCapital} USDT of your equity` : "in proportion to your equity";
    case "SIZING_MODE_RISK_PERCENT":
      return `${(Number(s.riskPercent ?? 0) * 100).toLocaleString()}% of your equity at risk per trade`;
    default:
      return `${s.multiplier ?? "1"} × the master's quantity`;
  }
}
