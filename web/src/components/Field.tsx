// A labelled input whose error, when the service names this field, is shown at the field in
// words (and tied to it for screen readers); other errors go to the form's ErrorBox.
import { useId } from "react";
import { describeError, errorField } from "../api";
import { ErrorBox } from "./Status";

const same = (a: string, b: string) => a.replace(/[_.]/g, "").toLowerCase() === b.replace(/[_.]/g, "").toLowerCase();

/** Whether the error is about one of these fields (API spelling, snake or camel case). */
export function isFieldError(error: unknown, names: string[]): boolean {
  const field = errorField(error);
  return !!field && names.some((n) => same(field, n) || same(field.replace(/^settings\./, ""), n));
}

type InputProps = Omit<React.InputHTMLAttributes<HTMLInputElement>, "onChange" | "value">;

export function TextField({ label, name, value, onChange, error, hint, ...rest }: {
  label: React.ReactNode;
  name: string; // the API field it fills
  value: string;
  onChange: (value: string) => void;
  error?: unknown;
  hint?: React.ReactNode;
} & InputProps) {
  const id = useId();
  const bad = isFieldError(error, [name]);
  const described = [hint ? `${id}-hint` : "", bad ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={bad || undefined}
        aria-describedby={described} {...rest} />
      {hint && <p id={`${id}-hint`} className="hint">{hint}</p>}
      {bad && <p id={`${id}-error`} className="field-error" role="alert">{describeError(error)}</p>}
    </div>
  );
}

export function SelectField({ label, name, value, onChange, error, hint, children, ...rest }: {
  label: React.ReactNode;
  name: string;
  value: string;
  onChange: (value: string) => void;
  error?: unknown;
  hint?: React.ReactNode;
  children: React.ReactNode;
} & Omit<React.SelectHTMLAttributes<HTMLSelectElement>, "onChange" | "value">) {
  const id = useId();
  const bad = isFieldError(error, [name]);
  const described = [hint ? `${id}-hint` : "", bad ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={bad || undefined}
        aria-describedby={described} {...rest}>
        {children}
      </select>
      {hint && <p id={`${id}-hint`} className="hint">{hint}</p>}
      {bad && <p id={`${id}-error`} className="field-error" role="alert">{describeError(error)}</p>}
    </div>
  );
}

/** The form's error, unless one of its fields shows it. */
export function FormError({ error, fields }: { error: unknown; fields: string[] }) {
  if (!error || isFieldError(error, fields)) return null;
  return <ErrorBox error={error} />;
}
