// A page that fails to render says so in words, and the rest of the app keeps working.
import { Component } from "react";

export class ErrorBoundary extends Component<{ children: React.ReactNode; resetKey: string }, { error: Error | null; key: string }> {
  state = { error: null as Error | null, key: "" };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  static getDerivedStateFromProps(props: { resetKey: string }, state: { error: Error | null; key: string }) {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  render() {
    if (this.state.error)
      return (
        <div className="status error" role="alert">
          <strong>This page failed:</strong> {this.state.error.message}. Try another page or reload.
        </div>
      );
    return this.props.children;
  }
}
