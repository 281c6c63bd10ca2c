// Dates and times on the room page, in the reader's own locale (the browser's languages): a
// message's time ("오후 3:10"), its full date and time on hover, and the day dividers between
// messages of different days ("오늘", "어제", "12월 1일"; "2023년 12월 1일" in another year).
// Days are the reader's local days.

const LOCALES = navigator.languages?.length ? [...navigator.languages] : undefined;
const clock = new Intl.DateTimeFormat(LOCALES, { hour: "numeric", minute: "2-digit" });
const full = new Intl.DateTimeFormat(LOCALES, { dateStyle: "full", timeStyle: "short" });
const monthDay = new Intl.DateTimeFormat(LOCALES, { month: "long", day: "numeric" });
const yearMonthDay = new Intl.DateTimeFormat(LOCALES, {
  year: "numeric",
  month: "long",
  day: "numeric",
});
const relative = new Intl.RelativeTimeFormat(LOCALES, { numeric: "auto" });
const DAY_MS = 86400000;

function valid(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? null : when;
}

// The local day of a moment, "YYYY-MM-DD" ("" for no valid moment): messages of one day share it.
export function dayKey(iso) {
  const when = valid(iso);
  if (!when) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
}

// "오후 3:10" (the time alone: the day is on the divider above).
export function timeOf(iso) {
  const when = valid(iso);
  return when ? clock.format(when) : "";
}

// "2024년 12월 1일 일요일 오후 3:10": for a title.
export function fullTimeOf(iso) {
  const when = valid(iso);
  return when ? full.format(when) : "";
}

// The divider's words for a day key: today and yesterday by name, else the date (with its year
// when it is not this year's).
export function dayLabel(key, now = new Date()) {
  const [year, month, day] = key.split("-").map(Number);
  const date = new Date(year, month - 1, day);
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const daysAgo = Math.round((today - date) / DAY_MS); // rounding absorbs a DST hour
  if (daysAgo === 0 || daysAgo === 1) {
    const words = relative.format(-daysAgo, "day");
    return words.charAt(0).toLocaleUpperCase() + words.slice(1);
  }
  return (year === now.getFullYear() ? monthDay : yearMonthDay).format(date);
}
