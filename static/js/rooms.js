// The room list: likes without a reload, and online/like counts refreshed while the page is
// open, so the numbers a reader sees are current.
import { agoLabel, showOnline } from "./dom.js";
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
    }
  } catch {
    // offline for a moment: the next round tries again
  }
  relabelTimes();
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
