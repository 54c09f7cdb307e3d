// Self-check of the page, for people and for the browser test: errors are recorded on <body>
// (data-errors), and each chart gets data-rendered, the number of its marks the browser drew
// with a non-empty box, to compare with data-count. Values (users, IPs, ids: .tok) must stay
// whole: data-wrapped counts those the layout broke over two lines, and, laid out for print
// (#print lays the screen out with the print rules, as the browser test does), data-clipped
// those that run past the page's edge. Printing unfolds the rows folded on screen.
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.setAttribute('data-errors', errors.join(' | '));
  });
  function unfold() {
    var folded = document.querySelectorAll('details.rest');
    for (var i = 0; i < folded.length; i++) folded[i].open = true;
  }
  window.addEventListener('beforeprint', unfold);
  var print = location.hash === '#print';
  if (print) {
    var sheet = document.styleSheets[0];
    var rules = sheet.cssRules;
    for (var r = 0; r < rules.length; r++) {
      if (rules[r].media && rules[r].media.mediaText === 'print') {
        var inner = rules[r].cssRules;
        for (var k = 0; k < inner.length; k++) sheet.insertRule(inner[k].cssText, sheet.cssRules.length);
      }
    }
    unfold();
    document.body.setAttribute('data-layout', 'print');
  }
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
  var toks = document.querySelectorAll('.tok');
  var edge = document.documentElement.clientWidth;
  var wrapped = [], clipped = [];
  for (var t = 0; t < toks.length; t++) {
    if (toks[t].getClientRects().length > 1) wrapped.push(toks[t].textContent);
    if (print && toks[t].getBoundingClientRect().right > edge + 0.5) clipped.push(toks[t].textContent);
  }
  document.body.setAttribute('data-tokens', String(toks.length));
  document.body.setAttribute('data-wrapped', wrapped.slice(0, 5).join(' | ') + '#' + wrapped.length);
  document.body.setAttribute('data-clipped', clipped.slice(0, 5).join(' | ') + '#' + clipped.length);
  document.body.setAttribute('data-checked', String(charts.length));
})();
