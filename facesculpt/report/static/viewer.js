/* facesculpt report viewer: a classic script (no ES modules: they do not load from file://).
   Needs THREE (three.min.js) and THREE.OrbitControls, and window.FACESCULPT_REPORT_DATA from the
   result folder's report_data.js. Sets window.facesculptViewer = {ready, error, ...} and
   document.body.dataset.viewer = "ready" | "error". */
(function () {
  "use strict";
  var state = window.facesculptViewer = { ready: false, error: null };

  function fail(msg) {
    state.error = String(msg);
    document.body.dataset.viewer = "error";
    var el = document.getElementById("viewer-status");
    if (el) { el.textContent = "3D viewer unavailable: " + msg; }
  }

  function b64bytes(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }

  function inflate(bytes) {
    var ds = new DecompressionStream("deflate");
    return new Response(new Blob([bytes]).stream().pipeThrough(ds)).arrayBuffer();
  }

  var CTORS = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
                uint32: Uint32Array, float32: Float32Array };

  /* [offset, count, dtype] of a byte-planed array -> typed array */
  function view(buf, spec) {
    var C = CTORS[spec[2]], n = spec[1], k = C.BYTES_PER_ELEMENT;
    var src = new Uint8Array(buf, spec[0], n * k), out = new Uint8Array(n * k);
    for (var j = 0; j < k; j++) {
      var base = j * n;
      for (var i = 0; i < n; i++) { out[i * k + j] = src[base + i]; }
    }
    return new C(out.buffer);
  }

  function buildGeometry(buf, data, p) {
    var nv = p.vertices, q = view(buf, p.position), nq = view(buf, p.normal), uq = view(buf, p.uv);
    var pos = new Float32Array(nv * 3), nor = new Float32Array(nv * 3), uv = new Float32Array(nv * 2);
    var lo = data.position_min, sc = data.position_scale;
    for (var i = 0; i < nv; i++) {
      for (var a = 0; a < 3; a++) {
        pos[i * 3 + a] = lo[a] + q[i * 3 + a] * sc[a];
        nor[i * 3 + a] = nq[i * 3 + a] / 127;
      }
      uv[i * 2] = uq[i * 2] / 65535; uv[i * 2 + 1] = uq[i * 2 + 1] / 65535;
    }
    var g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(pos, 3));
    g.setAttribute("normal", new THREE.BufferAttribute(nor, 3));
    g.setAttribute("uv", new THREE.BufferAttribute(uv, 2));
    g.setIndex(new THREE.BufferAttribute(view(buf, p.index), 1));
    if (p.morphs) {
      var targets = [];
      for (var t = 0; t < data.target_names.length; t++) {
        var d = new Float32Array(nv * 3), steps = view(buf, p.morphs[t][0]), vals = view(buf, p.morphs[t][1]);
        var v = 0;
        for (var s = 0; s < steps.length; s++) {
          v += steps[s];
          d[v * 3] = vals[s * 3] * data.morph_scale;
          d[v * 3 + 1] = vals[s * 3 + 1] * data.morph_scale;
          d[v * 3 + 2] = vals[s * 3 + 2] * data.morph_scale;
        }
        targets.push(new THREE.BufferAttribute(d, 3));
      }
      g.morphAttributes.position = targets;
      g.morphTargetsRelative = true;
    }
    return g;
  }

  function loadTexture(uri) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () {
        var tex = new THREE.Texture(img);
        tex.encoding = THREE.sRGBEncoding;
        tex.needsUpdate = true;
        resolve(tex);
      };
      img.onerror = function () { reject(new Error("a texture did not decode")); };
      img.src = uri;
    });
  }

  function start() {
    var data = window.FACESCULPT_REPORT_DATA;
    if (!window.THREE || !THREE.OrbitControls) { return fail("three.js did not load (is the _report folder beside the results?)"); }
    if (!data) { return fail("report_data.js did not load"); }
    if (typeof DecompressionStream === "undefined") { return fail("this browser has no DecompressionStream (use a current Chrome, Firefox or Safari)"); }
    var canvas = document.getElementById("viewer-canvas");
    var renderer;
    try {
      renderer = new THREE.WebGLRenderer({ canvas: canvas, antialias: true, preserveDrawingBuffer: true });
    } catch (e) { return fail("WebGL is not available"); }
    renderer.outputEncoding = THREE.sRGBEncoding;
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    var texKeys = Object.keys(data.textures);
    Promise.all([inflate(b64bytes(data.bin))].concat(texKeys.map(function (k) { return loadTexture(data.textures[k]); })))
      .then(function (res) { setup(renderer, canvas, data, res[0], texKeys, res.slice(1)); })
      .catch(function (e) { fail(e && e.message ? e.message : e); });
  }

  function setup(renderer, canvas, data, buf, texKeys, texList) {
    var textures = {};
    texKeys.forEach(function (k, i) { textures[k] = texList[i]; });
    var scene = new THREE.Scene();
    scene.background = new THREE.Color(0x20232a);
    var camera = new THREE.PerspectiveCamera(30, 1, 0.01, 10);
    var hemi = new THREE.HemisphereLight(0xffffff, 0x404040, 0.45);
    var sun = new THREE.DirectionalLight(0xffffff, 1.6);
    scene.add(hemi); scene.add(sun); scene.add(sun.target);
    var group = new THREE.Group();
    scene.add(group);
    var meshes = [];
    data.parts.forEach(function (p) {
      var g = buildGeometry(buf, data, p);
      var tex = p.texture ? textures[p.texture] : null;
      var col = new THREE.Color(p.color[0], p.color[1], p.color[2]);
      var mats = {
        textured: new THREE.MeshStandardMaterial({ map: tex, color: tex ? 0xffffff : col, roughness: p.roughness, metalness: 0 }),
        shaded: new THREE.MeshStandardMaterial({ color: 0xbdbdbd, roughness: 0.7, metalness: 0 }),
        albedo: new THREE.MeshBasicMaterial({ map: tex, color: tex ? 0xffffff : col }),
        normals: new THREE.MeshNormalMaterial(),
        wireframe: new THREE.MeshBasicMaterial({ color: 0x9ad0ff, wireframe: true })
      };
      var m = new THREE.Mesh(g, mats.textured);
      m.userData.mats = mats;
      m.userData.morph = !!p.morphs;
      group.add(m);
      meshes.push(m);
    });
    // the head's box from the payload (three's own bounds add up every morph target's extent)
    var lo = data.position_min, sc = data.position_scale;
    var box = new THREE.Box3(new THREE.Vector3(lo[0], lo[1], lo[2]),
                             new THREE.Vector3(lo[0] + sc[0] * 65535, lo[1] + sc[1] * 65535, lo[2] + sc[2] * 65535));
    var centre = box.getCenter(new THREE.Vector3()), size = box.getSize(new THREE.Vector3());
    var radius = size.length() / 2;
    // rotate about the head's centre (clips turn the head)
    var pivot = new THREE.Group();
    scene.remove(group); pivot.add(group); scene.add(pivot);
    pivot.position.copy(centre); group.position.copy(centre).negate();
    var controls = new THREE.OrbitControls(camera, canvas);
    controls.target.copy(centre);
    camera.position.set(centre.x, centre.y, centre.z + 0.5 * size.y / Math.tan(Math.PI * 15 / 180) * 1.15);
    controls.minDistance = radius * 0.5; controls.maxDistance = radius * 8;
    controls.update();

    var weights = data.weights.slice();
    var needs = true;
    function redraw() { needs = true; }
    function applyWeights() {
      meshes.forEach(function (m) { if (m.userData.morph) { m.morphTargetInfluences = weights.slice(); } });
      redraw();
    }
    function setView(name) {
      meshes.forEach(function (m) { m.material = m.userData.mats[name]; });
      state.view = name;
      redraw();
    }
    function setLight(az, el) {
      var a = az * Math.PI / 180, e = el * Math.PI / 180;
      sun.position.set(centre.x + Math.sin(a) * Math.cos(e), centre.y + Math.sin(e), centre.z + Math.cos(a) * Math.cos(e));
      sun.target.position.copy(centre);
      redraw();
    }
    function resize() {
      var w = canvas.clientWidth, h = canvas.clientHeight;
      if (canvas.width !== Math.round(w * renderer.getPixelRatio()) || canvas.height !== Math.round(h * renderer.getPixelRatio())) {
        renderer.setSize(w, h, false);
        camera.aspect = w / Math.max(h, 1);
        camera.updateProjectionMatrix();
        redraw();
      }
    }
    controls.addEventListener("change", redraw);

    // controls: views, light, expression sliders
    document.querySelectorAll("input[name=view]").forEach(function (r) {
      r.addEventListener("change", function () { if (r.checked) { setView(r.value); } });
    });
    var az = document.getElementById("light-azimuth"), el = document.getElementById("light-elevation");
    function lightFromInputs() { setLight(parseFloat(az.value), parseFloat(el.value)); }
    function lightFromInputs2() { az.nextElementSibling.textContent = az.value; el.nextElementSibling.textContent = el.value; lightFromInputs(); }
    az.addEventListener("input", lightFromInputs2); el.addEventListener("input", lightFromInputs2);
    lightFromInputs2();
    var box2 = document.getElementById("expression-sliders"), sliders = [];
    if (!data.target_names.length) { box2.parentNode.style.display = "none"; }  // a mesh without blendshapes
    data.target_names.forEach(function (name, i) {
      var row = document.createElement("label");
      row.className = "slider";
      var span = document.createElement("span"); span.textContent = name;
      var input = document.createElement("input");
      input.type = "range"; input.min = "0"; input.max = "1"; input.step = "0.01";
      input.value = String(weights[i]); input.dataset.target = name;
      var out = document.createElement("output"); out.textContent = weights[i].toFixed(2);
      input.addEventListener("input", function () {
        weights[i] = parseFloat(input.value); out.textContent = weights[i].toFixed(2); applyWeights();
      });
      row.appendChild(span); row.appendChild(input); row.appendChild(out);
      box2.appendChild(row);
      sliders.push([input, out]);
    });
    document.getElementById("expression-reset").addEventListener("click", function () {
      weights = data.weights.slice();
      sliders.forEach(function (s, i) { s[0].value = String(weights[i]); s[1].textContent = weights[i].toFixed(2); });
      applyWeights();
    });
    applyWeights();
    setView("textured");

    var clip = setupClip(window.FACESCULPT_CLIP, data, pivot, function (w) {
      weights = w.slice();
      sliders.forEach(function (s, i) { s[0].value = String(weights[i]); s[1].textContent = weights[i].toFixed(2); });
      applyWeights();
    });
    var frames = 0;
    function loop(now) {
      resize();
      if (clip) { clip.tick(now); }
      if (needs) {
        needs = false;
        renderer.render(scene, camera);
        frames++;
        state.frames = frames;
        if (!state.ready) {
          state.ready = true;
          state.readyMs = Math.round(performance.now());
          document.body.dataset.viewer = "ready";
          var st = document.getElementById("viewer-status");
          if (st) { st.textContent = "drag to orbit, wheel to zoom, right-drag to pan"; }
        }
      }
      requestAnimationFrame(loop);
    }
    state.camera = camera; state.box = box; state.setView = setView;
    state.setLight = setLight;
    state.weights = function () { return weights.slice(); };
    requestAnimationFrame(loop);
  }

  /* A clip: the first frame's head, every frame's fitted expression weights and head rotation
     (relative to the first frame; OpenCV camera -> glTF view frame by a half turn about x). */
  function setupClip(clip, data, pivot, setWeights) {
    if (!clip || !clip.frames || !clip.frames.length) { return null; }
    var play = document.getElementById("clip-play"), range = document.getElementById("clip-frame");
    var label = document.getElementById("clip-label");
    var order = clip.names.map(function (n) { return data.target_names.indexOf(n); });
    function quat(rv) {
      var v = new THREE.Vector3(rv[0], rv[1], rv[2]), a = v.length();
      return a < 1e-12 ? new THREE.Quaternion() : new THREE.Quaternion().setFromAxisAngle(v.normalize(), a);
    }
    var flip = new THREE.Quaternion().setFromAxisAngle(new THREE.Vector3(1, 0, 0), Math.PI);
    var q0inv = quat(clip.frames[0].rotvec).invert();
    var times = clip.frames.map(function (f, i) { return f.time_s != null ? f.time_s - (clip.frames[0].time_s || 0) : i * 0.1; });
    var period = times[times.length - 1] + (times.length > 1 ? (times[times.length - 1] / (times.length - 1)) || 0.1 : 0.1);
    var current = -1, playing = false, start = 0;
    function show(i) {
      if (i === current) { return; }
      current = i;
      var f = clip.frames[i], w = data.weights.map(function () { return 0; });
      order.forEach(function (j, k) { if (j >= 0) { w[j] = f.weights[k]; } });
      pivot.quaternion.copy(flip).multiply(quat(f.rotvec)).multiply(q0inv).multiply(flip.clone().invert());
      range.value = String(i);
      label.textContent = "frame " + f.frame + (f.time_s != null ? " (" + f.time_s.toFixed(2) + " s)" : "");
      state.clipFrame = i;
      setWeights(w);
    }
    play.addEventListener("click", function () {
      playing = !playing; play.textContent = playing ? "pause" : "play"; start = -1;
    });
    range.addEventListener("input", function () { playing = false; play.textContent = "play"; show(parseInt(range.value, 10)); });
    show(0);
    return {
      tick: function (now) {
        if (!playing) { return; }
        if (start < 0) { start = now - times[current] * 1000; }
        var t = ((now - start) / 1000) % period, i = 0;
        while (i + 1 < times.length && times[i + 1] <= t) { i++; }
        show(i);
      }
    };
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
