// The live tail: rows that the server rendered and escaped, appended as
// they arrive. EventSource reconnects by itself, resuming after the last
// event it saw; a failed read is shown as text.
document.addEventListener("DOMContentLoaded", () => {
  const rows = document.getElementById("tail-rows");
  if (!rows) return;
  const source = new EventSource(rows.dataset.source);
  source.addEventListener("event", (e) => rows.insertAdjacentHTML("beforeend", e.data));
  source.addEventListener("failed", (e) => {
    const row = rows.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 6;
    cell.className = "error";
    cell.textContent = e.data;
  });
});
