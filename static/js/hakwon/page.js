// The title-hakwon page: comments in two orders, live new comments, replies and likes.
//
// Writes go through the REST API (the same services as the socket); what everyone sees changing
// (new comments, replies, like counts, edits, deletions, the close) arrives over the hakwon
// socket. A new comment is put at the top when the reader is at the top of the list; otherwise
// it waits behind the "N new comments" button, so the text being read never jumps.
import { el, show } from "../dom.js";
import { errorMessage, request, samePath } from "../http.js";
import { enterSubmits, isSendKey } from "../keys.js";
import { LiveSocket } from "../live.js";
import {
  commentItem,
  likeCount,
  markDeleted,
  replyCount,
  setLikeCount,
  setLiked,
  setReplyCount,
  updateComment,
} from "./render.js";

const root = document.getElementById("hakwon");
const list = root.querySelector("[data-comments]");
const more = root.querySelector("[data-more]");
const empty = root.querySelector("[data-empty]");
const newButton = root.querySelector("[data-new-comments]");
const form = root.querySelector("[data-comment-form]");
const loggedIn = Boolean(root.dataset.meId);

const state = {
  open: root.dataset.open === "true",
  tab: "latest",
  next: null,
  items: new Map(), // comment id -> <li>, captions and the replies shown
  pending: new Map(), // new captions held behind the button, by id
  likeEvents: new Map(), // comment id -> live like events seen (see toggleLike)
};

const WRITE_ERRORS = {
  401: "로그인이 필요해요.",
  403: "로그인이 필요해요. 새로고침 후 다시 시도해 주세요.",
  429: "너무 빨리 쓰고 있어요. 잠시 후 다시 시도해 주세요.",
};
const STATES = {
  connecting: "",
  open: "",
  reconnecting: "실시간 연결이 끊겼어요. 다시 연결하는 중…",
  closed: "실시간 연결을 할 수 없어요.",
};

// --- the list -----------------------------------------------------------------------------------

function item(comment) {
  // One's own comment cannot be liked (the API answers 403 own_comment): no button to press.
  const own = loggedIn && String(comment.author.id) === root.dataset.meId;
  const node = commentItem(comment, { canReply: state.open && loggedIn, canLike: state.open && !own });
  state.items.set(comment.id, node);
  return node;
}

function refreshEmpty() {
  show(empty, list.children.length === 0);
}

async function load(tab) {
  state.tab = tab;
  for (const button of root.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === tab));
  }
  list.setAttribute("aria-busy", "true");
  const { ok, data } = await request(`${root.dataset.commentsUrl}?ordering=${tab}`).catch(
    () => ({ ok: false }), // unreachable for a moment: keep what is shown
  );
  list.setAttribute("aria-busy", "false");
  if (!ok) return;
  state.items.clear();
  list.replaceChildren(...data.results.map(item));
  // Held comments that this read already shows are no longer new; later ones still are.
  for (const id of state.pending.keys()) {
    if (state.items.has(id)) state.pending.delete(id);
  }
  state.next = samePath(data.next);
  show(more, Boolean(state.next));
  showPending();
  refreshEmpty();
}

async function loadMore() {
  more.disabled = true;
  try {
    const { ok, data } = await request(state.next).catch(() => ({ ok: false }));
    if (!ok) return;
    for (const comment of data.results) {
      if (!state.items.has(comment.id)) list.append(item(comment));
    }
    state.next = samePath(data.next);
    show(more, Boolean(state.next));
  } finally {
    more.disabled = false;
  }
}

// "At the top": the list's first comment is not above the top of the window, so putting a new
// one there moves nothing the reader is looking at.
const readerAtTop = () => list.getBoundingClientRect().top >= -8;

function arrived(comment) {
  if (state.items.has(comment.id)) return updateComment(state.items.get(comment.id), comment);
  if (state.tab === "latest" && readerAtTop()) {
    list.prepend(item(comment));
    refreshEmpty();
  } else {
    state.pending.set(comment.id, comment);
    showPending();
  }
}

function showPending() {
  root.querySelector("[data-new-count]").textContent = String(state.pending.size);
  show(newButton, state.pending.size > 0);
}

newButton.addEventListener("click", async () => {
  if (state.tab !== "latest") {
    await load("latest"); // the new ones are at the top of it
  } else {
    for (const comment of state.pending.values()) {
      if (!state.items.has(comment.id)) list.prepend(item(comment));
    }
    state.pending.clear();
    showPending();
    refreshEmpty();
  }
  list.scrollIntoView({ block: "start", behavior: "smooth" });
  list.firstElementChild?.querySelector("a, button")?.focus({ preventScroll: true });
});

// --- live events ---------------------------------------------------------------------------------

function replyArrived(reply) {
  if (state.items.has(reply.id)) return;
  const parent = state.items.get(reply.parent_id);
  if (!parent) return;
  setReplyCount(parent, replyCount(parent) + 1);
  const box = parent.querySelector(".replies");
  if (box.dataset.loaded) box.querySelector(".replies__list").append(item(reply));
}

function deleted(event) {
  state.pending.delete(event.comment_id);
  showPending();
  const node = state.items.get(event.comment_id);
  if (!node) return;
  if (event.placeholder) return markDeleted(node);
  node.remove();
  state.items.delete(event.comment_id);
  const parent = state.items.get(event.parent_id);
  if (parent) setReplyCount(parent, replyCount(parent) - 1);
  refreshEmpty();
}

function closed(event) {
  state.open = false;
  root.dataset.open = "false";
  form?.remove();
  root.querySelectorAll(".reply-form").forEach((f) => f.remove());
  root.querySelectorAll("[data-like]").forEach((button) => {
    button.disabled = true;
  });
  const badge = root.querySelector("[data-hakwon-state]");
  badge.textContent = "마감";
  badge.classList.remove("badge--live");
  const banner = root.querySelector("[data-closed-banner]");
  banner.replaceChildren(el("p", "", "마감되었어요! 오늘의 수상작:"));
  const awards = el("ol", "award-list");
  for (const award of event.awards) {
    const line = el("li", "award");
    line.append(
      el("span", `rank rank--${award.rank}`, `${award.rank}위`),
      el("span", "award__content", `“${award.content}”`),
      el("span", "muted", `${award.member.nickname} · 좋아요 ${award.like_count}`),
    );
    awards.append(line);
  }
  if (!event.awards.length) awards.append(el("li", "muted", "수상작이 없어요."));
  banner.append(awards);
  show(banner, true);
}

function onFrame(frame) {
  switch (frame.type) {
    case "comment.created":
      return arrived(frame.comment);
    case "reply.created":
      return replyArrived(frame.comment);
    case "comment.updated": {
      const node = state.items.get(frame.comment.id);
      if (node) updateComment(node, { ...frame.comment, like_count: undefined });
      return;
    }
    case "comment.deleted":
      return deleted(frame);
    case "comment.liked": {
      state.likeEvents.set(frame.comment_id, (state.likeEvents.get(frame.comment_id) || 0) + 1);
      const node = state.items.get(frame.comment_id);
      if (node) setLikeCount(node, frame.like_count);
      return;
    }
    case "hakwon.closed":
      return closed(frame);
    default:
      return undefined;
  }
}

// After a drop the socket has no replay: read the first page again and merge it.
async function resync() {
  const url = `${root.dataset.commentsUrl}?ordering=${state.tab}`;
  const { ok, data } = await request(url).catch(() => ({ ok: false }));
  if (!ok) return;
  for (const comment of [...data.results].reverse()) arrived(comment);
}

const socket = new LiveSocket(root.dataset.wsPath, {
  onFrame,
  onOpen: (reconnected) => reconnected && resync(),
  onState(name) {
    root.dataset.state = name;
    root.querySelector("[data-conn-status]").textContent = STATES[name] ?? "";
  },
});

// --- likes and replies (clicks anywhere in the list) ---------------------------------------------

async function toggleLike(button) {
  if (!loggedIn) {
    location.href = root.dataset.loginUrl;
    return;
  }
  if (!state.open || button.getAttribute("aria-busy") === "true") return;
  const id = Number(button.dataset.like);
  const node = state.items.get(id);
  const liked = button.getAttribute("aria-pressed") === "true";
  const eventsBefore = state.likeEvents.get(id) || 0;
  button.setAttribute("aria-busy", "true");
  try {
    const response = await request(`/api/comments/${id}/like/`, {
      method: liked ? "DELETE" : "POST",
    });
    const quiet = (state.likeEvents.get(id) || 0) === eventsBefore;
    if (response.status === 201 || response.status === 409) {
      setLiked(node, true);
      // The live event carries the committed count; use ours only if none came meanwhile.
      if (response.status === 201 && quiet) setLikeCount(node, response.data.like_count);
    } else if (response.status === 204 || response.status === 404) {
      setLiked(node, false);
      if (response.status === 204 && quiet && !socket.isOpen) {
        setLikeCount(node, likeCount(node) - 1);
      }
    }
  } catch {
    // unreachable: the button simply stays as it was
  } finally {
    button.removeAttribute("aria-busy");
  }
}

async function toggleReplies(button) {
  const node = state.items.get(Number(button.dataset.replies));
  const box = node.querySelector(".replies");
  const opening = box.hidden;
  box.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  if (!opening || box.dataset.loaded) return;
  box.dataset.loaded = "true";
  const replies = box.querySelector(".replies__list");
  let next = `/api/comments/${button.dataset.replies}/replies/`;
  while (next) {
    const { ok, data } = await request(next).catch(() => ({ ok: false }));
    if (!ok) {
      delete box.dataset.loaded; // try again on the next open
      break;
    }
    for (const reply of data.results) {
      if (!state.items.has(reply.id)) replies.append(item(reply));
    }
    next = samePath(data.next);
  }
  box.querySelector("textarea")?.focus();
}

list.addEventListener("click", (event) => {
  const like = event.target.closest("[data-like]");
  if (like) return toggleLike(like);
  const replies = event.target.closest("[data-replies]");
  if (replies) return toggleReplies(replies);
  return undefined;
});

list.addEventListener("keydown", (event) => {
  if (event.target.matches(".reply-form textarea") && isSendKey(event)) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
});

// --- writing ---------------------------------------------------------------------------------------

async function write(formNode, url, done) {
  const input = formNode.elements.content;
  const status = formNode.querySelector("[role=alert]");
  const content = input.value.trim();
  const fail = (text) => {
    status.textContent = text;
    show(status, true);
  };
  if (!content) return fail("내용을 입력해 주세요.");
  if (formNode.getAttribute("aria-busy") === "true") return undefined;
  formNode.setAttribute("aria-busy", "true");
  input.readOnly = true;
  try {
    const response = await request(url, { method: "POST", json: { content } });
    if (response.status === 201) {
      input.value = "";
      show(status, false);
      done(response.data);
    } else if (response.data?.code === "hakwon_closed") {
      fail("마감된 제목학원이에요.");
    } else {
      fail(WRITE_ERRORS[response.status] || errorMessage(response.data, "등록하지 못했어요."));
    }
  } catch {
    fail("서버에 연결할 수 없어요. 잠시 후 다시 시도해 주세요.");
  } finally {
    formNode.removeAttribute("aria-busy");
    input.readOnly = false;
    input.focus();
  }
  return undefined;
}

if (form) {
  enterSubmits(form.elements.content);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    write(form, root.dataset.commentsUrl, async (comment) => {
      if (state.tab !== "latest") await load("latest");
      if (!state.items.has(comment.id)) list.prepend(item(comment));
      state.pending.delete(comment.id);
      showPending();
      refreshEmpty();
    });
  });
}

list.addEventListener("submit", (event) => {
  const replyForm = event.target.closest("[data-reply-form]");
  if (!replyForm) return;
  event.preventDefault();
  const parentId = Number(replyForm.dataset.replyForm);
  write(replyForm, `/api/comments/${parentId}/replies/`, (reply) => replyArrived(reply));
});

for (const button of root.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => load(button.dataset.tab));
}
more.addEventListener("click", loadMore);

load("latest").then(() => socket.start());
