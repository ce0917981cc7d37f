// A confirmation step in the page (not window.confirm): focus moves to it and stays in it, Escape
// cancels, and focus goes back to what opened it.
import { useEffect, useRef } from "react";

export function Confirm({ title, children, confirmLabel, onConfirm, onCancel, busy, danger, disabled }: {
  title: string;
  children: React.ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  danger?: boolean;
  disabled?: boolean; // a choice inside is still to be made
}) {
  const first = useRef<HTMLButtonElement>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    first.current?.focus();
    return () => opener?.focus?.();
  }, []);
  function onKeyDown(e: React.KeyboardEvent) {
    if (e.key === "Escape") onCancel();
    if (e.key !== "Tab" || !box.current) return;
    const focusable = [...box.current.querySelectorAll<HTMLElement>("button, input, select, textarea")].filter((el) => !el.hasAttribute("disabled"));
    const [head, tail] = [focusable[0], focusable[focusable.length - 1]];
    if (e.shiftKey && document.activeElement === head) {
      e.preventDefault();
      tail.focus();
    } else if (!e.shiftKey && document.activeElement === tail) {
      e.preventDefault();
      head.focus();
    }
  }
  return (
    <div className="backdrop" onKeyDown={onKeyDown}>
      <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" ref={box}>
        <h2 id="confirm-title">{title}</h2>
        {children}
        <div className="actions">
          <button type="button" ref={first} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className={danger ? "danger" : "primary"} onClick={onConfirm} disabled={busy || disabled}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
