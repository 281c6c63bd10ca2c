// The nav bar's notification badge, live: the member's own socket (/ws/me/) says when a
// notification arrives or was read on another page; screen readers hear new ones politely.
import { LiveSocket } from "./live.js";

const link = document.querySelector("[data-notify]");
const badge = link?.querySelector("[data-notify-badge]");
const label = link?.querySelector("[data-notify-label]");
const live = document.querySelector("[data-notify-live]");

const WHAT = {
  mention: (n) => `${n.actor?.nickname ?? "누군가"} 님이 나를 불렀어요`,
  reply: (n) => `${n.actor?.nickname ?? "누군가"} 님이 내 메시지에 답장했어요`,
  comment_reply: (n) => `${n.actor?.nickname ?? "누군가"} 님이 내 캡션에 답글을 달았어요`,
  comment_likes: (n) => `${n.count}명이 내 캡션을 좋아해요`,
  award: (n) => `내 캡션이 ${n.text}을 받았어요`,
};

function showUnread(unread) {
  badge.hidden = !unread;
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.dataset.unread = String(unread);
  label.textContent = unread ? ` (안 읽은 알림 ${unread}개)` : "";
}

if (link && badge) {
  new LiveSocket("/ws/me/", {
    onFrame(frame) {
      if (typeof frame.unread === "number") showUnread(frame.unread);
      if (frame.type === "notification.created" && live) {
        const what = WHAT[frame.notification.kind];
        live.textContent = `새 알림: ${what ? what(frame.notification) : "새 소식이 있어요"}`;
      }
    },
  }).start();
}
