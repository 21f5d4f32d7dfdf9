// How the pages show times: in the browser's own locale and time zone.

// One formatter for every cell: toLocaleString would build a new one per call, which the
// 10,000-row grid notices.
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An ISO timestamp as local date and time; "" for none, the text itself if unparsable. */
export function localDateTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (isNaN(date.getTime())) return iso;
  return dateFormat.format(date);
}
