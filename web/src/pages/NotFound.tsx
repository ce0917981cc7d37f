import { Link } from "../router";
import { usePageTitle } from "../hooks";

export function NotFoundPage() {
  usePageTitle("Page not found");
  return (
    <section aria-labelledby="nf-title" className="not-found">
      <h1 id="nf-title">This page does not exist</h1>
      <p>The address may be mistyped, or the page has moved.</p>
      <p>
        <Link to="/discover">Find a master to copy</Link> or go to <Link to="/copies">your copies</Link>.
      </p>
    </section>
  );
}
