// The theme's FontAwesome script replaces <i> icons by <svg>; the ipywidgets Play button then fails
// when it swaps its play/pause icon. "nest" puts the <svg> inside the <i>, which keeps both working.
window.FontAwesomeConfig = { autoReplaceSvg: "nest" };
