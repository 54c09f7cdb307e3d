// Self-check of the page, for people and for the browser test: errors are recorded on <body>
// (data-errors), and each chart gets data-rendered, the number of its marks the browser drew
// with a non-empty box, to compare with data-count.
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.setAttribute('data-errors', errors.join(' | '));
  });
  var charts = document.querySelectorAll('[data-chart]');
  for (var i = 0; i < charts.length; i++) {
    var marks = charts[i].querySelectorAll('[data-mark]');
    var drawn = 0;
    for (var j = 0; j < marks.length; j++) {
      var box = marks[j].getBBox();
      if (box.width > 0 && box.height > 0) drawn++;
    }
    charts[i].setAttribute('data-rendered', String(drawn));
  }
  document.body.setAttribute('data-checked', String(charts.length));
})();
