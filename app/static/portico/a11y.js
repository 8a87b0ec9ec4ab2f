// Select2 widgets (FAB's relation fields and ours) get the name of their field: select2 draws its own
// box, search field and list, which otherwise have no label for assistive technology (WCAG 4.1.2).
(function ($) {
    "use strict";

    function labelOf(select) {
        var label = select.id ? document.querySelector("label[for='" + select.id + "']") : null;
        return label ? label.textContent.trim() : (select.getAttribute("aria-label") || select.name || "");
    }

    function name(select) {
        var text = labelOf(select), box = select.nextElementSibling;
        if (!text || !box || !box.classList.contains("select2")) {
            return;
        }
        $(box).find(".select2-selection__rendered").each(function () {
            this.setAttribute("aria-label", text);
            if (this.tagName === "UL") {
                this.setAttribute("role", "list");  // select2 puts a bare <span> (clear all) in its <ul>
            }
        });
        $(box).find(".select2-search__field").attr("aria-label", text);
    }

    function scan() {
        $("select.select2-hidden-accessible").each(function () { name(this); });
    }

    $(function () {
        scan();
        $(document).on("change select2:select select2:unselect select2:clear", "select", function () { name(this); });
        new MutationObserver(function (mutations) {
            if (mutations.some(function (m) { return m.addedNodes.length; })) {
                scan();
            }
        }).observe(document.body, {childList: true, subtree: true});
    });
}(jQuery));
