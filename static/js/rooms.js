// The room list: likes without a reload, and online/like/unread counts refreshed while the page
// is open, so the numbers a reader sees are current.
import { agoLabel, el, showOnline } from "./dom.js";
import { request } from "./http.js";
import { enhanceLikeForms, setRoomLikes } from "./like.js";

const REFRESH_MS = 10000;
const grid = document.querySelector("[data-rooms]");

async function refresh() {
  if (document.hidden) return;
  try {
    const { ok, data } = await request(grid.dataset.api);
    if (!ok) return;
    for (const room of data.results) {
      const card = grid.querySelector(`[data-room-id="${room.id}"]`);
      if (!card) continue;
      showOnline(card, room.online);
      card.querySelector("time[data-ago]").dateTime = room.last_activity_at;
      setRoomLikes(card, { count: room.like_count });
      showUnread(card, room.unread);
    }
  } catch {
    // offline for a moment: the next round tries again
  }
  relabelTimes();
}

// The badge beside the room's name: the member's unread messages there (none: no badge).
function showUnread(card, unread) {
  const name = card.querySelector(".room-card__name");
  let badge = name.querySelector(".unread-badge");
  if (!unread) {
    badge?.remove();
    return;
  }
  if (!badge) {
    badge = el("span", "unread-badge");
    name.append(" ", badge);
  }
  badge.dataset.unread = String(unread);
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.setAttribute("aria-label", `안 읽은 메시지 ${unread}개`);
}

// "3분 전" rather than the server's "3분": and it keeps counting while the page is open.
function relabelTimes() {
  for (const time of grid.querySelectorAll("time[data-ago]")) {
    time.textContent = agoLabel(time.dateTime);
  }
}

if (grid) {
  relabelTimes();
  enhanceLikeForms(grid);
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
}
