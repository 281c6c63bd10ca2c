// The GIF picker next to the send box. A button opens a panel with:
//
// - "파일 올리기": a file is posted to POST /api/media/ and, once stored, sent at once (one
//   action, as chat apps do; it also lands at the front of "내 GIF"). Dropping a file on the
//   send box or pasting an image into it does the same, with the panel open or not;
// - two lists of still thumbnails, each a button that sends that GIF (chat.send with gif_id):
//   "내 GIF" (GET /api/media/, the member's latest uploads) and "이 방의 GIF"
//   (GET /api/rooms/<id>/gifs/, uploaded GIFs lately sent here), read again each time shown;
// - "주소로 보내기": the GIF address field of the send form (it goes with the form's text, as
//   before the picker).
//
// Sending itself is the page's (room.js: one send at a time, ack, retry); this asks `send`.
// Escape closes the panel and gives the focus back to its button; so does leaving it.
import { el, show } from "../dom.js";
import { request } from "../http.js";
import { fitSize, safeImageUrl } from "./render.js";

// The server's MEDIA_MAX_BYTES (its default): a bigger file is refused here, not uploaded.
export const MAX_UPLOAD_BYTES = 10_000_000;
const THUMB_PX = 96;

const UNSUPPORTED = "GIF, PNG, JPEG, WebP 이미지만 올릴 수 있어요.";
const TOO_LARGE = "파일이 너무 커요 (최대 10MB).";

// What to tell the member when an upload did not go through.
export function uploadError(status, data, file) {
  const code = data && typeof data === "object" ? data.code : null;
  if (code === "unsupported_media") return UNSUPPORTED;
  if (code === "too_large" || status === 413) {
    // The size in bytes, or (a small file) too many pixels or frames.
    return file.size > MAX_UPLOAD_BYTES || status === 413
      ? TOO_LARGE
      : "이미지가 너무 커요. 가로세로나 프레임 수가 더 작은 이미지를 올려 주세요.";
  }
  if (status === 429) return "너무 자주 올리고 있어요. 잠시 후 다시 올려 주세요.";
  if (status === 401 || status === 403) {
    return "로그인이 필요해요. 새로고침 후 다시 로그인해 주세요.";
  }
  if (status === 400) return UNSUPPORTED;
  return "올리지 못했어요. 잠시 후 다시 올려 주세요.";
}

const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");

export class GifPicker {
  // composer: the send form (holds the button, the panel and the address field);
  // mediaUrl, roomGifsUrl: the two lists' APIs (the first also takes uploads);
  // refusal(): why nothing can be sent now ("" when it can); send(upload): send that upload,
  // false when it could not go out; status(text, isError): the send box's status line.
  constructor(composer, { mediaUrl, roomGifsUrl, refusal, send, status }) {
    this.composer = composer;
    this.refusal = refusal;
    this.sendUpload = send;
    this.status = status;
    this.toggle = composer.querySelector("[data-gif-toggle]");
    this.panel = composer.querySelector("[data-gif-panel]");
    this.file = composer.querySelector("[data-gif-file]");
    this.uploadButton = composer.querySelector("[data-gif-upload]");
    this.address = composer.elements.gif_url;
    this.tabs = [...this.panel.querySelectorAll("[data-gif-tab]")];
    this.lists = {
      mine: this.#list("mine", mediaUrl, "아직 올린 GIF가 없어요. 파일을 올려 보세요."),
      room: this.#list("room", roomGifsUrl, "이 방에서 보낸 GIF가 아직 없어요."),
    };
    this.current = "mine";
    this.uploading = false;

    this.toggle.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    this.uploadButton.addEventListener("click", () => this.file.click());
    this.file.addEventListener("change", () => {
      const [file] = this.file.files;
      this.file.value = ""; // the same file again is a new choice
      if (file) this.upload(file);
    });
    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.#select(tab.dataset.gifTab));
    }
    const tablist = this.panel.querySelector("[role=tablist]");
    tablist.addEventListener("keydown", (event) => this.#tabKeys(event));
    this.panel.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.close();
    });
    // Leaving the panel (a click or Tab elsewhere) closes it; its own button toggles it.
    this.panel.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (to && !this.panel.contains(to) && to !== this.toggle) this.close(false);
    });
    document.addEventListener("pointerdown", (event) => {
      const inside = this.panel.contains(event.target) || this.toggle.contains(event.target);
      if (this.isOpen && !inside) this.close(false);
    });
    this.address.addEventListener("input", () => this.#paintToggle());
    this.#paintToggle();

    // A file dropped on the send box (panel included), an image pasted into it.
    composer.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      composer.classList.add("composer--drop");
    });
    composer.addEventListener("dragleave", (event) => {
      if (!composer.contains(event.relatedTarget)) composer.classList.remove("composer--drop");
    });
    composer.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      composer.classList.remove("composer--drop");
      const [file] = event.dataTransfer.files;
      if (file) this.upload(file);
    });
    composer.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      const image = files.find((file) => file.type.startsWith("image/"));
      if (!image) return; // text is pasted as text
      event.preventDefault();
      this.upload(image);
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  open() {
    show(this.panel, true);
    this.toggle.setAttribute("aria-expanded", "true");
    this.#select(this.current, { focus: true });
  }

  close(restoreFocus = true) {
    if (!this.isOpen) return;
    const hadFocus = this.panel.contains(document.activeElement);
    show(this.panel, false);
    this.toggle.setAttribute("aria-expanded", "false");
    this.#paintToggle();
    if (restoreFocus && hadFocus) this.toggle.focus();
  }

  // The address field, to correct what it holds (it may be in the closed panel).
  showAddress() {
    if (!this.isOpen) {
      show(this.panel, true);
      this.toggle.setAttribute("aria-expanded", "true");
      this.#select(this.current);
    }
    this.address.focus();
  }

  // A message went out: one with a GIF closes the panel (the send box takes the focus).
  sent(out) {
    if (out.gifId || out.gifUrl) this.close(false);
    this.#paintToggle();
  }

  // Send a GIF the member chose (the panel, a drop, a paste): upload it, then send it.
  async upload(file) {
    if (this.uploading) {
      this.status("올리는 중이에요. 끝나면 다시 올려 주세요.", true);
      return;
    }
    const refusal = this.refusal({ busyOk: true });
    if (refusal) {
      this.status(refusal, true);
      return;
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      this.status(TOO_LARGE, true);
      return;
    }
    this.#uploading(true);
    this.status("GIF를 올리는 중…", false);
    const form = new FormData();
    form.append("file", file, file.name || "image");
    let answer;
    try {
      answer = await request(this.lists.mine.url, { method: "POST", form });
    } catch {
      answer = null;
    } finally {
      this.#uploading(false);
    }
    if (!answer) {
      this.status("올리지 못했어요. 연결을 확인하고 다시 올려 주세요.", true);
      return;
    }
    if (!answer.ok) {
      this.status(uploadError(answer.status, answer.data, file), true);
      return;
    }
    const upload = answer.data;
    const mine = this.lists.mine;
    mine.items = [upload, ...(mine.items || []).filter((u) => u.id !== upload.id)];
    this.#paint(mine);
    this.status("", false);
    if (!this.sendUpload(upload)) {
      // Refused now (another send under way, slow mode): it waits in "내 GIF".
      const line = this.refusal() || "지금은 보낼 수 없어요.";
      this.status(`${line} 올린 GIF는 '내 GIF'에 있어요.`, true);
    }
  }

  #list(name, url, emptyText) {
    const panel = this.panel.querySelector(`[data-gif-list="${name}"]`);
    const list = {
      name,
      url,
      panel,
      grid: panel.querySelector("[data-gif-items]"),
      note: panel.querySelector("[data-gif-note]"),
      emptyText,
      items: null, // the last list read
      reading: null,
    };
    list.grid.addEventListener("click", (event) => {
      const button = event.target.closest("[data-gif-id]");
      const upload = button && list.items?.find((u) => u.id === button.dataset.gifId);
      if (upload) this.#choose(upload);
    });
    list.grid.addEventListener("keydown", (event) => this.#gridKeys(list, event));
    list.note.addEventListener("click", (event) => {
      if (event.target.closest("[data-gif-retry]")) this.#read(list);
    });
    return list;
  }

  #choose(upload) {
    if (!this.sendUpload(upload)) return; // the page says why
    this.status("", false);
  }

  #select(name, { focus = false } = {}) {
    this.current = name;
    for (const tab of this.tabs) {
      const selected = tab.dataset.gifTab === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      show(this.lists[tab.dataset.gifTab].panel, selected);
      if (selected && focus) tab.focus();
    }
    this.#read(this.lists[name]);
  }

  async #read(list) {
    if (list.reading) return list.reading;
    if (list.items === null) this.#say(list, "불러오는 중…");
    list.reading = (async () => {
      try {
        const { ok, data } = await request(list.url);
        if (!ok || !Array.isArray(data?.results)) throw new Error("gifs");
        list.items = data.results;
        this.#paint(list);
      } catch {
        if (list.items === null) this.#say(list, "불러오지 못했어요.", true);
      } finally {
        list.reading = null;
      }
    })();
    return list.reading;
  }

  #say(list, text, retry = false) {
    list.note.replaceChildren(text);
    if (retry) {
      const again = el("button", "link-button", "다시 시도");
      again.type = "button";
      again.dataset.gifRetry = "";
      list.note.append(" ", again);
    }
    show(list.note, true);
  }

  // The list's buttons, one tab stop for the whole grid (the arrow keys move inside it).
  #paint(list) {
    const items = (list.items || []).filter((u) => safeImageUrl(u?.thumb_url));
    const focused = list.grid.contains(document.activeElement)
      ? document.activeElement.dataset.gifId
      : null;
    list.grid.replaceChildren(
      ...items.map((upload, i) => {
        const kind = upload.content_type === "image/gif" ? "GIF" : "이미지";
        const button = el("button", "gif-picker__item");
        button.type = "button";
        button.dataset.gifId = upload.id;
        button.tabIndex = i === 0 ? 0 : -1;
        const size = `${upload.width}×${upload.height}`;
        button.setAttribute("aria-label", `${kind} 보내기 (${i + 1}번째, ${size})`);
        button.title = `${kind} 보내기`;
        const thumb = el("img", "gif-picker__thumb");
        const fit = fitSize(upload.width, upload.height, THUMB_PX);
        if (fit) {
          thumb.width = fit.width;
          thumb.height = fit.height;
        }
        thumb.src = safeImageUrl(upload.thumb_url);
        thumb.alt = "";
        thumb.loading = "lazy";
        thumb.decoding = "async";
        button.append(thumb);
        if (upload.frames > 1) button.append(el("span", "gif-picker__badge", "GIF"));
        const item = el("li", "gif-picker__cell");
        item.append(button);
        return item;
      }),
    );
    if (items.length) show(list.note, false);
    else this.#say(list, list.emptyText);
    if (focused) list.grid.querySelector(`[data-gif-id="${CSS.escape(focused)}"]`)?.focus();
  }

  #gridKeys(list, event) {
    const buttons = [...list.grid.querySelectorAll("[data-gif-id]")];
    const at = buttons.indexOf(event.target);
    if (at < 0) return;
    const top = buttons[0].offsetTop;
    const columns = Math.max(1, buttons.filter((b) => b.offsetTop === top).length);
    const moves = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: columns,
      ArrowUp: -columns,
      Home: -at,
      End: buttons.length - 1 - at,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const to = buttons[Math.min(buttons.length - 1, Math.max(0, at + moves[event.key]))];
    buttons.forEach((b) => (b.tabIndex = b === to ? 0 : -1));
    to.focus();
  }

  #tabKeys(event) {
    const at = this.tabs.indexOf(event.target);
    if (at < 0) return;
    let to = null;
    if (event.key === "ArrowRight") to = (at + 1) % this.tabs.length;
    else if (event.key === "ArrowLeft") to = (at - 1 + this.tabs.length) % this.tabs.length;
    else if (event.key === "Home") to = 0;
    else if (event.key === "End") to = this.tabs.length - 1;
    if (to === null) return;
    event.preventDefault();
    this.#select(this.tabs[to].dataset.gifTab, { focus: true });
  }

  #uploading(yes) {
    this.uploading = yes;
    this.uploadButton.disabled = yes;
    this.uploadButton.textContent = yes ? "올리는 중…" : "파일 올리기";
    this.toggle.setAttribute("aria-busy", String(yes));
    this.composer.classList.toggle("composer--uploading", yes);
  }

  // A GIF address typed in the closed panel goes with the next message: the button says so.
  #paintToggle() {
    const waiting = Boolean(this.address.value.trim());
    this.toggle.classList.toggle("gif-toggle--armed", waiting);
    this.toggle.title = waiting
      ? "GIF 주소가 입력되어 있어요 (메시지와 함께 보내져요)"
      : "GIF 보내기";
  }
}
