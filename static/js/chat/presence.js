// Who is in the room: the online count is a button that opens a short list of the members here
// now, each once, and how many readers are not logged in. The list is read from
// GET /api/rooms/<id>/presence/ when it opens and, while it stays open, again when a
// room.presence frame says someone came or went, at most once every 2 s. A closed list costs
// nothing. Each member shows their role in the room (roleMark) and, for a logged-in reader, their
// name opens the member's menu (memberMenu: the same as a message author's).
import { el, show } from "../dom.js";
import { request } from "../http.js";
import { roleMark } from "./render.js";

const REFRESH_EVERY_MS = 2000;

export class WhoIsHere {
  // box: the [data-who] element; url: the presence API; meId: the member reading (or null);
  // roleOf(id): "owner", "moderator" or null; menu(member, button): opens a member's menu.
  constructor(box, { url, meId, roleOf = () => null, menu = null }) {
    this.box = box;
    this.url = url;
    this.meId = meId;
    this.roleOf = roleOf;
    this.menu = menu;
    this.shown = null; // the last list read
    this.button = box.querySelector("[data-who-toggle]");
    this.panel = box.querySelector("[data-who-panel]");
    this.list = box.querySelector("[data-who-list]");
    this.anonymous = box.querySelector("[data-who-anonymous]");
    this.status = box.querySelector("[data-who-status]");
    this.last = -Infinity;
    this.timer = null;
    this.loading = false;
    this.again = false;

    this.button.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    this.list.addEventListener("click", (event) => {
      const name = event.target.closest("[data-member-menu]");
      const member = name && this.shown?.members.find((m) => String(m.id) === name.dataset.userId);
      if (member) this.menu(member, name);
    });
    box.addEventListener("keydown", (event) => {
      if (event.defaultPrevented) return; // a menu inside closed itself
      if (event.key === "Escape" && this.isOpen) {
        event.preventDefault();
        this.close();
        this.button.focus();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (this.isOpen && !box.contains(event.target)) this.close();
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  open() {
    show(this.panel, true);
    this.button.setAttribute("aria-expanded", "true");
    if (!this.list.childElementCount) this.#say("불러오는 중…");
    this.refresh();
  }

  close() {
    show(this.panel, false);
    this.button.setAttribute("aria-expanded", "false");
  }

  // Someone came or went (a room.presence frame).
  changed() {
    if (this.isOpen) this.refresh();
    else this.last = -Infinity; // stale: read it afresh when it opens
  }

  refresh() {
    if (this.timer !== null) return;
    const wait = this.last + REFRESH_EVERY_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.isOpen) this.refresh();
      }, wait);
      return;
    }
    this.#load();
  }

  async #load() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.last = Date.now();
    try {
      const { ok, data } = await request(this.url);
      if (!ok || !Array.isArray(data?.members)) throw new Error("presence");
      this.#paint(data);
    } catch {
      this.#say("지금은 목록을 불러올 수 없어요.");
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }
  }

  // Roles changed: the marks follow.
  repaint() {
    if (this.shown) this.#paint(this.shown);
  }

  #paint({ members, anonymous }) {
    this.shown = { members, anonymous };
    // A member's menu is open in the list: keep it; repaint() follows when it closes.
    if (this.list.querySelector("[role=menu]")) return;
    this.list.replaceChildren(
      ...members.map((member) => {
        const item = el("li", "who__member");
        const name = String(member.nickname || "");
        item.dataset.userId = String(member.id);
        const avatar = el("span", "who__avatar", [...name][0] || "?");
        avatar.setAttribute("aria-hidden", "true");
        let label;
        if (this.menu && this.meId !== null && member.id !== this.meId) {
          label = el("button", "who__name who__name--menu", name);
          label.type = "button";
          label.dataset.memberMenu = "";
          label.dataset.userId = String(member.id);
          label.setAttribute("aria-haspopup", "menu");
          label.setAttribute("aria-expanded", "false");
          label.title = `${name}님 메뉴`;
        } else {
          label = el("span", "who__name", name);
        }
        item.append(avatar, label);
        const mark = roleMark(this.roleOf(member.id));
        if (mark) item.append(mark);
        if (member.id === this.meId) item.append(el("span", "msg__you", "나"));
        return item;
      }),
    );
    const guests = Number(anonymous) || 0;
    this.anonymous.textContent = guests ? `로그인하지 않은 독자 ${guests}명` : "";
    show(this.anonymous, guests > 0);
    this.#say(members.length || guests ? "" : "지금은 아무도 없어요.");
  }

  #say(text) {
    this.status.textContent = text;
    show(this.status, Boolean(text));
  }
}
