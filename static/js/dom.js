// Building DOM from data. User content only ever goes in through textContent (never innerHTML),
// so a message like "<script>" is shown as the text it is.

export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null && text !== undefined) node.textContent = String(text);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

// Only http(s) links become <img src>; anything else (javascript:, data:) is ignored.
export function safeHttpUrl(value) {
  return typeof value === "string" && /^https?:\/\//i.test(value) ? value : null;
}

const clock = new Intl.DateTimeFormat("ko-KR", { hour: "numeric", minute: "2-digit" });
const day = new Intl.DateTimeFormat("ko-KR", { month: "long", day: "numeric" });

export function timeLabel(iso) {
  const when = new Date(iso);
  const sameDay = when.toDateString() === new Date().toDateString();
  return sameDay ? clock.format(when) : `${day.format(when)} ${clock.format(when)}`;
}

export function agoLabel(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "방금 전";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}분 전`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}시간 전`;
  return day.format(new Date(iso));
}

// A room's online count; the dot goes grey when nobody is there (CSS: data-count="0").
export function showOnline(root, count) {
  const counter = root.querySelector("[data-online]");
  counter.textContent = count === null || count === undefined ? "–" : String(count);
  counter.closest(".presence").dataset.count = counter.textContent;
}
