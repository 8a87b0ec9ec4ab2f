// Relation fields and filters (select.portico-choices) fetch their choices as the user types.
// FAB's filter script adds filter fields later, so new selects are picked up as they appear.
(function ($) {
    "use strict";

    function init(el) {
        var $el = $(el);
        if ($el.hasClass("select2-hidden-accessible")) {
            return;
        }
        $el.select2({
            theme: "bootstrap",
            width: "100%",
            allowClear: !el.multiple,
            placeholder: $el.data("placeholder") || "",
            ajax: {
                url: $el.data("choices-url"),
                dataType: "json",
                delay: 250,
                data: function (params) {
                    return {q: params.term || "", page: params.page || 1};
                }
            }
        });
    }

    function scan(root) {
        if ($(root).is("select.portico-choices")) {
            init(root);
        }
        $("select.portico-choices", root).each(function () { init(this); });
    }

    $(function () {
        scan(document.body);
        new MutationObserver(function (mutations) {
            mutations.forEach(function (mutation) {
                mutation.addedNodes.forEach(function (node) {
                    if (node.nodeType === 1) {
                        scan(node);
                    }
                });
            });
        }).observe(document.body, {childList: true, subtree: true});
    });
})(jQuery);
