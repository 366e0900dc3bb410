// The η control: progressive enhancement. The page carries the sampled curve as JSON (#eta-data); moving
// the slider moves the ring along the curve and shows that sample's numbers. Nothing is requested per
// move. Without JavaScript the slider stays hidden and the readout shows the numbers at the learner's η.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var data = document.getElementById("eta-data");
  var slider = document.getElementById("eta-slider");
  if (!data || !slider) {
    return;
  }
  var samples = JSON.parse(data.textContent).samples;
  var marker = document.getElementById("eta-marker");
  var guide = document.getElementById("eta-guide");
  var side = document.getElementById("eta-side");
  var texts = {
    eta: document.getElementById("eta-rate"),
    loss: document.getElementById("eta-loss"),
    change: document.getElementById("eta-change"),
    first: document.getElementById("eta-first")
  };

  function show(index) {
    var sample = samples[index];
    if (!sample) {
      return;
    }
    Object.keys(texts).forEach(function (name) {
      texts[name].textContent = sample[name];
    });
    guide.setAttribute("x1", sample.x);
    guide.setAttribute("x2", sample.x);
    marker.setAttribute("cx", sample.x);
    if (sample.y === null) {
      marker.setAttribute("visibility", "hidden");
    } else {
      marker.setAttribute("cy", sample.y);
      marker.removeAttribute("visibility");
    }
    if (sample.side) {
      side.textContent = "η is " + sample.side + " " + side.dataset.bound + ".";
    }
    slider.setAttribute("aria-valuetext", "η = " + sample.eta);
  }

  slider.closest(".eta-control").hidden = false;
  slider.addEventListener("input", function () {
    show(Number(slider.value));
  });
});
