// The title-hakwon page: wires the socket client (socket.js) to the drawing (render.js), the two
// orders, "more", likes, replies and the caption box.
//
// Writes go through the REST API (the same services as the socket); what everyone sees changing
// arrives over the hakwon socket. A new comment is put at the top when the reader is at the top
// of the list; otherwise it waits behind the "N new comments" button, so the text being read
// never jumps. API paths come from the template (data-*-url; a per-comment one holds 0 for the id).
import { show } from "../dom.js";
import { errorMessage, request, samePath } from "../http.js";
import { enterSubmits, isSendKey } from "../keys.js";
import { CommentList, likeCount, setLikeCount, setLiked, showClosed } from "./render.js";
import { HakwonClient } from "./socket.js";

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

const root = document.getElementById("hakwon");
const list = root.querySelector("[data-comments]");
const more = root.querySelector("[data-more]");
const empty = root.querySelector("[data-empty]");
const newButton = root.querySelector("[data-new-comments]");
const newLive = root.querySelector("[data-new-live]"); // read out politely by screen readers
const form = root.querySelector("[data-comment-form]");
const loggedIn = Boolean(root.dataset.meId);
const pathFor = (template, id) => template.replace("/0/", () => `/${id}/`);
const listUrl = (tab) => `${root.dataset.commentsUrl}?ordering=${tab}`;

const state = {
  open: root.dataset.open === "true",
  tab: "latest",
  next: null,
  pending: new Map(), // new captions held behind the button, by id
};
const comments = new CommentList(list, {
  meId: root.dataset.meId,
  open: state.open,
  authorUrl: (username) => pathFor(root.dataset.memberUrl, encodeURIComponent(username)),
});

// --- the list -----------------------------------------------------------------------------------

function refreshEmpty() {
  show(empty, comments.isEmpty);
}

async function load(tab) {
  state.tab = tab;
  for (const button of root.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === tab));
  }
  list.setAttribute("aria-busy", "true");
  const { ok, data } = await request(listUrl(tab)).catch(
    () => ({ ok: false }), // unreachable for a moment: keep what is shown
  );
  list.setAttribute("aria-busy", "false");
  if (!ok) return;
  comments.replace(data.results);
  // Held comments that this read already shows are no longer new; later ones still are.
  for (const id of state.pending.keys()) {
    if (comments.has(id)) state.pending.delete(id);
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
    for (const comment of data.results) comments.append(comment);
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
  if (comments.has(comment.id)) return comments.update(comment);
  if (state.tab === "latest" && readerAtTop()) {
    comments.prepend(comment);
    refreshEmpty();
    newLive.textContent = `새 댓글: ${comment.content}`;
  } else {
    state.pending.set(comment.id, comment);
    showPending();
    newLive.textContent = `새 댓글 ${state.pending.size}개`;
  }
  return undefined;
}

function showPending() {
  root.querySelector("[data-new-count]").textContent = String(state.pending.size);
  show(newButton, state.pending.size > 0);
}

newButton.addEventListener("click", async () => {
  if (state.tab !== "latest") {
    await load("latest"); // the new ones are at the top of it
  } else {
    for (const comment of state.pending.values()) comments.prepend(comment);
    state.pending.clear();
    showPending();
    refreshEmpty();
  }
  list.scrollIntoView({ block: "start", behavior: "smooth" });
  list.firstElementChild?.querySelector("a, button")?.focus({ preventScroll: true });
});

// --- the socket client's view ------------------------------------------------------------------

const client = new HakwonClient({
  wsPath: root.dataset.wsPath,
  catchUpUrl: () => listUrl(state.tab),
  view: {
    created: arrived,
    replied: (reply) => comments.addReply(reply),
    // Like counts move by their own events; an edit's copy of the count may be older.
    updated: (comment) => comments.update({ ...comment, like_count: undefined }),
    deleted(frame) {
      state.pending.delete(frame.comment_id);
      showPending();
      if (comments.remove(frame)) refreshEmpty();
    },
    liked(frame) {
      const node = comments.get(frame.comment_id);
      if (node) setLikeCount(node, frame.like_count);
    },
    closed(frame) {
      state.open = false;
      root.dataset.open = "false";
      form?.remove();
      comments.close();
      showClosed(root, frame.awards);
    },
    state(name) {
      root.dataset.state = name;
      root.querySelector("[data-conn-status]").textContent = STATES[name] ?? "";
    },
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
  const node = comments.get(id);
  const liked = button.getAttribute("aria-pressed") === "true";
  const eventsBefore = client.likeEventCount(id);
  button.setAttribute("aria-busy", "true");
  try {
    const response = await request(pathFor(root.dataset.likeUrl, id), {
      method: liked ? "DELETE" : "POST",
    });
    const quiet = client.likeEventCount(id) === eventsBefore;
    if (response.status === 201 || response.status === 409) {
      setLiked(node, true);
      // The live event carries the committed count; use ours only if none came meanwhile.
      if (response.status === 201 && quiet) setLikeCount(node, response.data.like_count);
    } else if (response.status === 204 || response.status === 404) {
      setLiked(node, false);
      if (response.status === 204 && quiet && !client.isOpen) {
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
  const id = Number(button.dataset.replies);
  const node = comments.get(id);
  const box = node.querySelector(".replies");
  const opening = box.hidden;
  box.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  if (!opening || box.dataset.loaded) return;
  box.dataset.loaded = "true";
  let next = pathFor(root.dataset.repliesUrl, id);
  while (next) {
    const { ok, data } = await request(next).catch(() => ({ ok: false }));
    if (!ok) {
      delete box.dataset.loaded; // try again on the next open
      break;
    }
    comments.appendReplies(node, data.results);
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
      comments.prepend(comment);
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
  write(replyForm, pathFor(root.dataset.repliesUrl, parentId), (reply) => comments.addReply(reply));
});

for (const button of root.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => load(button.dataset.tab));
}
more.addEventListener("click", loadMore);

load("latest").then(() => client.start());
