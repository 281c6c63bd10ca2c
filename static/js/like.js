// Room like buttons: plain POST forms that scripts send in the background, so the page stays
// put. Without scripts (or if the background post fails) the form posts as usual.
import { request } from "./http.js";

export function setRoomLikes(root, { liked, count }) {
  const form = root.querySelector("form[data-like-form]");
  if (form && liked !== undefined) {
    form.elements.intent.value = liked ? "unlike" : "like";
    form.querySelector("button").setAttribute("aria-pressed", String(liked));
  }
  const counter = root.querySelector("[data-like-count]");
  if (counter && count !== undefined) counter.textContent = String(count);
}

export function enhanceLikeForms(root) {
  root.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-like-form]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    try {
      const body = new URLSearchParams(new FormData(form));
      const response = await request(form.action, { method: "POST", form: body });
      if (!response.ok || !response.data) throw new Error(`like failed: ${response.status}`);
      setRoomLikes(form.parentElement, {
        liked: response.data.liked,
        count: response.data.like_count,
      });
    } catch {
      form.submit();
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
}
