// Images that may fail (an old http URL of a room, a contest day or a profile): an <img
// data-fallback> that cannot be loaded is swapped for a placeholder saying so, instead of a
// broken frame. Loaded as a plain script in <head>, before the page's images: the listener
// catches every failure ("error" does not bubble; it is caught on the way down).
(() => {
  const MESSAGE = "이미지를 불러오지 못했어요";

  function placeholder(img) {
    const holder = document.createElement("span");
    holder.className = `${img.className} img-fallback`.trim();
    holder.dataset.imgFallback = img.getAttribute("src") || "";
    holder.title = MESSAGE;
    if (img.alt) {
      holder.setAttribute("role", "img");
      holder.setAttribute("aria-label", `${img.alt} (${MESSAGE})`);
    } else {
      holder.setAttribute("aria-hidden", "true"); // decorative, as the image was
    }
    const text = document.createElement("span");
    text.className = "img-fallback__text";
    text.textContent = MESSAGE;
    holder.append(text);
    return holder;
  }

  function swap(img) {
    if (img.isConnected) img.replaceWith(placeholder(img));
  }

  document.addEventListener(
    "error",
    (event) => {
      const img = event.target;
      if (img instanceof HTMLImageElement && img.hasAttribute("data-fallback")) swap(img);
    },
    true,
  );

  // In case this script ran late (a cached page, a script added after the images).
  function sweep() {
    for (const img of document.querySelectorAll("img[data-fallback]")) {
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) swap(img);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sweep);
  else sweep();
})();
