// Point require.js at the site's own copy of the widget libraries and fonts, so nothing is fetched from a CDN.
require.config({ baseUrl: (document.documentElement.dataset.content_root || "") + "_static/vendor/npm/" });
