// The room list: likes without a reload, and the numbers a reader sees kept current. Online and
// like counts are live: a socket (/ws/rooms/, docs/protocol.md) watches the rooms on the page
// and brings their changes as they happen. What is the reader's own (unread counts) and the
// time of each room's last message are read from the API every 10 s; that read also updates
// the counts while the socket is down.
import { agoLabel, el, showOnline } from "./dom.js";
import { request } from "./http.js";
import { enhanceLikeForms, setRoomLikes } from "./like.js";
import { LiveSocket } from "./live.js";

const REFRESH_MS = 10000;
const grid = document.querySelector("[data-rooms]");
const cardOf = (roomId) => grid.querySelector(`[data-room-id="${Number(roomId)}"]`);

async function refresh() {
  if (document.hidden) return;
  try {
    const { ok, data } = await request(grid.dataset.api);
    if (!ok) return;
    const live = counts?.isOpen; // the socket's counts are newer than this read may be
    for (const room of data.results) {
      const card = cardOf(room.id);
      if (!card) continue;
      if (!live) {
        showOnline(card, room.online);
        setRoomLikes(card, { count: room.like_count });
      }
      card.querySelector("time[data-ago]").dateTime = room.last_activity_at;
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

// The rooms' counts as they change: the answer to rooms.watch and the heartbeat's corrections
// (rooms.counts), then each like (room.likes) and arrival or departure (room.presence).
function counted(frame) {
  if (frame.type === "rooms.counts" && Array.isArray(frame.rooms)) {
    for (const room of frame.rooms) {
      const card = cardOf(room.room_id);
      if (!card) continue;
      showOnline(card, room.online);
      setRoomLikes(card, { count: room.like_count });
    }
  } else if (frame.type === "room.likes") {
    const card = cardOf(frame.room_id);
    if (card) setRoomLikes(card, { count: frame.like_count });
  } else if (frame.type === "room.presence") {
    const card = cardOf(frame.room_id);
    if (card) showOnline(card, frame.online);
  }
}

let counts = null;
if (grid) {
  relabelTimes();
  enhanceLikeForms(grid);
  const roomIds = [...grid.querySelectorAll("[data-room-id]")].map((card) =>
    Number(card.dataset.roomId),
  );
  if (roomIds.length) {
    counts = new LiveSocket("/ws/rooms/", {
      onFrame: counted,
      onOpen: () => counts.send({ type: "rooms.watch", room_ids: roomIds }),
    });
    counts.start();
  }
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
}
