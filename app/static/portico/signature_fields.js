/* Field placement on the staff "Place fields" page: a click on a page preview fills the document, page
   and position (percent of the page from its top-left) of the form and submits it. */
(function () {
  "use strict";
  var form = document.getElementById("field-form");
  if (!form) { return; }
  Array.prototype.forEach.call(document.querySelectorAll(".sig-page"), function (page) {
    page.addEventListener("click", function (event) {
      var box = page.getBoundingClientRect();
      form.elements.number.value = page.getAttribute("data-number");
      form.elements.page.value = page.getAttribute("data-page");
      form.elements.left.value = (100 * (event.clientX - box.left) / box.width).toFixed(1);
      form.elements.top.value = (100 * (event.clientY - box.top) / box.height).toFixed(1);
      form.submit();
    });
  });
})();
