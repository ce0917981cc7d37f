import { describeError } from "../api";

export function Loading({ what }: { what: string }) {
  return (
    <p className="status loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="status error" role="alert">
      <strong>Error:</strong> {describeError(error)}
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="status empty">{children}</p>;
}

export function Notice({ children }: { children: React.ReactNode }) {
  return (
    <p className="status notice" role="status">
      {children}
    </p>
  );
}
