// "Load more": a list read page by page through the API's cursor (`next_cursor`), drawn
// again as it grows. One place for the button the audit trail, the events and an
// invoice item's explanation share.
import { h } from "./dom.js";

// `rows` holds the first page's items and grows; `next(cursor)` fetches the page after
// `cursor`, whose items are under `key`; `draw()` redraws from `rows`. Answers the
// button, hidden on the last page. A page that fails goes to `failed(button, error)`
// when given, and is raised otherwise.
export function loadMore({ id, label = "Load more", rows, cursor, next, draw, key = "data", failed }) {
  const more = h("button", { type: "button", id, class: "secondary", hidden: !cursor }, label);
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await next(cursor);
      rows.push(...page[key]);
      cursor = page.next_cursor;
      draw();
      more.hidden = !cursor;
    } catch (e) {
      if (!failed) throw e;
      failed(more, e);
    } finally {
      more.disabled = false;
    }
  });
  draw();
  return more;
}
