/* WaddleBot overlay page (an OBS "Browser" source).
 *
 * The page's URL is /overlay/<token>/<kind>?options; it connects to <that URL>/ws, replays
 * what the server says is showing now, then shows live updates. It reconnects by itself,
 * with a growing pause, whenever the connection drops (a server restart).
 *
 * Everything the server sends is put on the page with textContent or as an element property
 * (img.src), never parsed as HTML: a user's name or message is only ever text here.
 *
 * The media page plays YouTube songs in YouTube's IFrame player, loaded from the address in
 * the page's data-youtube attribute the first time a YouTube song is to play, and reports
 * what it plays back over the same WebSocket ({"type": "player", ...}): where it is every
 * few seconds and whenever it starts or pauses, the end of a song, and a song it cannot play.
 */
(() => {
  "use strict";

  const root = document.documentElement;
  const stage = document.getElementById("stage");
  const box = document.getElementById("box");
  const path = location.pathname.replace(/\/+$/, "");
  const kind = path.split("/").pop();
  const query = new URLSearchParams(location.search);

  // -- options from the query string ---------------------------------------------------------

  function number(name, fallback, min, max) {
    const raw = query.get(name);
    if (raw === null || raw.trim() === "") return fallback;
    const value = Number(raw);
    return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
  }

  // the alert kinds of overlays/payloads.py (ALERT_KINDS) and the platforms of core/events.py
  const ALERT_KINDS = ["follow", "subscribe", "gift_subscribe", "cheer", "raid", "boost", "member_join", "custom"];
  const PLATFORMS = ["console", "twitch", "discord", "slack"];

  // A list option keeps the words it knows; none known (a typo) means no filter, as an
  // option that is not understood is ignored rather than hiding everything.
  function words(name, known) {
    const raw = query.get(name);
    if (!raw) return null;
    const chosen = raw
      .split(",")
      .map((word) => word.trim().toLowerCase())
      .filter((word) => known.includes(word));
    return chosen.length ? chosen : null;
  }

  // where the box sits on the stage: [horizontal, vertical]
  const POSITIONS = {
    "top-left": ["flex-start", "flex-start"],
    top: ["center", "flex-start"],
    "top-right": ["flex-end", "flex-start"],
    left: ["flex-start", "center"],
    center: ["center", "center"],
    right: ["flex-end", "center"],
    "bottom-left": ["flex-start", "flex-end"],
    bottom: ["center", "flex-end"],
    "bottom-right": ["flex-end", "flex-end"],
  };
  const DEFAULTS = {
    ticker: { position: "bottom", duration: 30 },
    media: { position: "bottom-left", duration: 0 },
    alerts: { position: "top", duration: 6 },
    general: { position: "right", duration: 0 },
  };
  const defaults = DEFAULTS[kind] || DEFAULTS.general;
  const wanted = query.get("position");
  const options = {
    width: number("width", 1920, 100, 7680),
    height: number("height", 1080, 100, 4320),
    position: Object.hasOwn(POSITIONS, wanted) ? wanted : defaults.position,
    margin: number("margin", 40, 0, 2000),
    scale: number("scale", 1, 0.25, 4),
    duration: number("duration", defaults.duration, 1, 3600),
    lines: number("lines", 4, 1, 20),
    volume: number("volume", 0.6, 0, 1),
    sound: (query.get("sound") || "on").trim(),
    image: (query.get("image") || "").trim(),
    types: words("types", ALERT_KINDS),
    platforms: words("platforms", PLATFORMS),
  };

  function layout() {
    const [horizontal, vertical] = POSITIONS[options.position];
    stage.style.width = `${options.width}px`;
    stage.style.height = `${options.height}px`;
    stage.style.padding = `${options.margin}px`;
    stage.style.justifyContent = horizontal;
    stage.style.alignItems = vertical;
    box.style.transform = `scale(${options.scale})`;
    const x = { "flex-start": "left", center: "center", "flex-end": "right" }[horizontal];
    const y = { "flex-start": "top", center: "center", "flex-end": "bottom" }[vertical];
    box.style.transformOrigin = `${x} ${y}`;
    root.classList.add(`kind-${kind}`, `at-${options.position}`);
  }

  // -- small helpers ---------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null && text !== "") node.textContent = String(text);
    return node;
  }

  function image(url, className) {
    const node = document.createElement("img");
    node.className = className;
    node.alt = "";
    node.referrerPolicy = "no-referrer";
    node.decoding = "async";
    node.addEventListener("error", () => node.remove());
    node.src = url;
    return node;
  }

  function leave(node, then) {
    node.classList.add("leaving");
    setTimeout(() => {
      node.remove();
      if (then) then();
    }, 500);
  }

  let clockSkew = 0; // server clock minus ours, from the hello
  const serverNow = () => Date.now() + clockSkew;

  function clock(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const minutes = Math.floor(total / 60);
    return `${minutes}:${String(total % 60).padStart(2, "0")}`;
  }

  // -- ticker: bot replies and announcements, newest at the bottom -----------------------------

  const ticker = {
    show(data, message, replayed) {
      if (options.platforms && data.platform && !options.platforms.includes(data.platform)) return;
      const age = (serverNow() - message.at) / 1000;
      if (replayed && age > options.duration) return;
      const line = el("div", "ticker-line");
      if (data.author) line.append(el("span", "ticker-author", data.author));
      line.append(el("span", "ticker-text", data.text));
      box.append(line);
      while (box.children.length > options.lines) box.firstElementChild.remove();
      setTimeout(() => leave(line), Math.max(1, options.duration - Math.max(0, age)) * 1000);
    },
    clear() {
      box.replaceChildren();
    },
  };

  // -- the YouTube player of the media page ----------------------------------------------------

  const REPORT_EVERY = 5000; // ms between two progress reports while a song plays

  function report(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "player", ...message }));
    }
  }

  const youtube = {
    base: root.dataset.youtube || "",
    api: null, // the promise of YT, once the script is asked for
    player: null,
    ready: false,
    song: null, // the now_playing it plays: {song, media_id, ...}
    ended: new Set(), // songs whose end was told already
    timer: null,

    load() {
      if (!this.api) {
        this.api = new Promise((resolve, reject) => {
          window.onYouTubeIframeAPIReady = () => resolve(window.YT);
          const script = document.createElement("script");
          script.src = `${this.base}/iframe_api`;
          script.async = true;
          script.addEventListener("error", () => reject(new Error("no YouTube player")));
          document.head.append(script);
        });
      }
      return this.api;
    },

    // a now_playing for a YouTube song: a new song loads, the same one is steered
    play(data, at) {
      if (this.song && this.song.song === data.song) {
        this.song = data;
        this.steer();
        return;
      }
      const moving = data.paused ? 0 : Math.max(0, (serverNow() - at) / 1000);
      const start = Math.floor((data.position || 0) + moving);
      this.song = data;
      this.load()
        .then((YT) => this.open(YT, data, start))
        .catch(() => {
          root.dataset.player = "unavailable";
        });
    },

    open(YT, data, start) {
      if (this.song !== data) return; // another song came meanwhile
      if (this.player && this.ready) {
        this.player.loadVideoById({ videoId: data.media_id, startSeconds: start });
        this.steer();
        return;
      }
      if (this.player) return; // still getting ready: onReady plays this.song
      const holder = el("div", "media-player");
      holder.id = "media-player";
      document.body.append(holder);
      this.player = new YT.Player("media-player", {
        host: this.base,
        width: 320,
        height: 180,
        videoId: data.media_id,
        playerVars: { autoplay: 1, controls: 0, playsinline: 1, start },
        events: {
          onReady: () => {
            this.ready = true;
            if (this.song && this.song.media_id !== data.media_id) {
              this.player.loadVideoById({ videoId: this.song.media_id, startSeconds: 0 });
            }
            this.steer();
          },
          onStateChange: (event) => this.changed(YT, event.data),
          onError: (event) => {
            if (!this.song) return;
            const song = this.song.song;
            if (this.ended.has(song)) return;
            this.ended.add(song);
            report({ song, state: "error", error: Number(event.data) || 0 });
          },
        },
      });
    },

    steer() {
      const data = this.song;
      if (!this.player || !this.ready || !data) return;
      if (typeof data.volume === "number") this.player.setVolume(data.volume);
      if (data.paused) this.player.pauseVideo();
      else this.player.playVideo();
      root.dataset.player = data.paused ? "paused" : "playing";
    },

    changed(YT, state) {
      if (!this.song) return;
      const song = this.song.song;
      if (state === YT.PlayerState.ENDED) {
        clearInterval(this.timer);
        if (this.ended.has(song)) return;
        this.ended.add(song);
        root.dataset.player = "ended";
        report({ song, state: "ended" });
        return;
      }
      if (state === YT.PlayerState.PLAYING || state === YT.PlayerState.PAUSED) {
        this.progress();
        clearInterval(this.timer);
        if (state === YT.PlayerState.PLAYING) this.timer = setInterval(() => this.progress(), REPORT_EVERY);
      }
    },

    position() {
      if (!this.player || !this.ready) return null;
      const at = Number(this.player.getCurrentTime());
      return Number.isFinite(at) ? at : null;
    },

    progress() {
      const at = this.position();
      if (!this.song || at === null) return;
      const duration = Number(this.player.getDuration()) || 0;
      report({
        song: this.song.song,
        state: "progress",
        position: Math.max(0, Math.min(at, 86400)),
        duration: Math.max(0, Math.min(duration, 86400)),
        paused: this.player.getPlayerState() === window.YT.PlayerState.PAUSED,
      });
    },

    stop() {
      clearInterval(this.timer);
      this.song = null;
      if (this.player && this.ready) this.player.stopVideo();
      delete root.dataset.player;
    },
  };

  // -- media: now playing, and clips played over it --------------------------------------------

  const media = {
    card: null,
    tick: null,
    clip: null,
    clipTimer: null,

    show(data, message, replayed) {
      if (data.type === "clip") {
        if (!replayed) this.playClip(data);
      } else if (data.type === "now_playing") {
        this.nowPlaying(data, message.at);
        if (data.source === "youtube" && data.media_id && data.song && youtube.base) {
          youtube.play(data, message.at);
        } else {
          youtube.stop();
        }
      }
    },

    nowPlaying(data, at) {
      this.stopSong();
      const card = el("div", "media-card");
      if (data.cover) card.append(image(data.cover, "media-cover"));
      const text = el("div", "media-text");
      text.append(el("div", "media-label", data.paused ? "Paused" : "Now playing"));
      text.append(el("div", "media-title", data.title));
      const by = [data.artist, data.album].filter(Boolean).join(" \u2014 ");
      if (by) text.append(el("div", "media-artist", by));
      if (data.requested_by) text.append(el("div", "media-requester", `requested by ${data.requested_by}`));
      if (data.duration) {
        const bar = el("div", "media-progress");
        const fill = el("div", "media-progress-fill");
        bar.append(fill);
        const times = el("div", "media-times");
        const elapsed = el("span", "media-elapsed");
        times.append(elapsed, el("span", "media-duration", clock(data.duration)));
        text.append(bar, times);
        const update = () => {
          const moving = data.paused ? 0 : (serverNow() - at) / 1000;
          const played = youtube.song && youtube.song.song === data.song ? youtube.position() : null;
          const position = Math.min(data.duration, played ?? (data.position || 0) + Math.max(0, moving));
          fill.style.width = `${(100 * position) / data.duration}%`;
          elapsed.textContent = clock(position);
        };
        update();
        this.tick = setInterval(update, 500);
      }
      card.append(text);
      if (this.clip) card.classList.add("hidden");
      box.append(card);
      this.card = card;
    },

    stopSong() {
      clearInterval(this.tick);
      this.tick = null;
      if (this.card) this.card.remove();
      this.card = null;
    },

    playClip(data) {
      this.endClip();
      const clip = el("div", "media-clip");
      if (data.embed) {
        // a Twitch clip plays in Twitch's own player; it ends on the clip's length
        const frame = document.createElement("iframe");
        frame.className = "media-clip-video";
        frame.allow = "autoplay";
        frame.src = data.url;
        clip.append(frame);
        this.showClip(clip, data);
        return;
      }
      const video = document.createElement("video");
      video.className = "media-clip-video";
      video.playsInline = true;
      video.autoplay = true;
      video.volume = options.volume;
      video.muted = options.volume === 0;
      video.addEventListener("ended", () => this.endClip());
      video.addEventListener("error", () => this.endClip());
      video.src = data.url;
      clip.append(video);
      this.showClip(clip, data);
      video.play().catch(() => {
        video.muted = true; // a browser that refuses sound without a click still plays it
        video.play().catch(() => {});
      });
    },

    showClip(clip, data) {
      const caption = [data.title, data.channel && `clip from ${data.channel}`].filter(Boolean);
      if (caption.length) clip.append(el("div", "media-clip-caption", caption.join(" \u2014 ")));
      box.append(clip);
      this.clip = clip;
      if (this.card) this.card.classList.add("hidden");
      this.clipTimer = setTimeout(() => this.endClip(), ((data.duration || 60) + 2) * 1000);
    },

    endClip() {
      clearTimeout(this.clipTimer);
      if (this.clip) this.clip.remove();
      this.clip = null;
      if (this.card) this.card.classList.remove("hidden");
    },

    clear() {
      this.endClip();
      this.stopSong();
      youtube.stop();
      box.replaceChildren();
    },
  };

  // -- alerts: one at a time, with a sound -----------------------------------------------------

  function tierName(tier) {
    const value = Number(tier);
    return Number.isFinite(value) && value >= 1000 ? `Tier ${value / 1000}` : String(tier);
  }

  function plural(count, one, many) {
    return `${count} ${count === 1 ? one : many}`;
  }

  function headline(data) {
    switch (data.kind) {
      case "follow":
        return "followed!";
      case "subscribe": {
        let text = "subscribed";
        if (data.tier) text += ` at ${tierName(data.tier)}`;
        if (data.months) text += ` for ${plural(data.months, "month", "months")}`;
        return `${text}!`;
      }
      case "gift_subscribe":
        return `gifted ${plural(data.count || 1, "sub", "subs")}!`;
      case "cheer":
        return `cheered ${plural(data.bits || 0, "bit", "bits")}!`;
      case "raid":
        return data.viewers ? `is raiding with ${plural(data.viewers, "viewer", "viewers")}!` : "is raiding!";
      case "boost":
        return "boosted the server!";
      case "member_join":
        return "joined!";
      default:
        return "";
    }
  }

  // a file the community uploaded (its media id, as the API gave it), served beside this page
  const MEDIA_ID = /^[0-9a-f]{16}\.(png|jpg|gif|webp|mp3|ogg|wav)$/;

  function upload(mediaId) {
    return `${path.slice(0, path.lastIndexOf("/"))}/uploads/${mediaId}`;
  }

  let audio = null;

  function chime(chosen) {
    if (options.sound === "off" || options.volume === 0) return;
    root.dataset.sounds = String(Number(root.dataset.sounds || 0) + 1);
    const wanted = chosen || options.sound;
    const url = MEDIA_ID.test(wanted) ? upload(wanted) : wanted;
    root.dataset.sound = url;
    if (/^https:\/\//.test(url) || url.startsWith("/overlay/")) {
      const sound = new Audio(url);
      sound.volume = options.volume;
      sound.play().catch(() => {});
      return;
    }
    try {
      audio = audio || new AudioContext();
      const start = audio.currentTime;
      [660, 880, 1320].forEach((pitch, i) => {
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        tone.type = "sine";
        tone.frequency.value = pitch;
        const at = start + i * 0.12;
        gain.gain.setValueAtTime(0, at);
        gain.gain.linearRampToValueAtTime(0.25 * options.volume, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.5);
        tone.connect(gain).connect(audio.destination);
        tone.start(at);
        tone.stop(at + 0.55);
      });
    } catch (error) {
      // no audio device: the alert still shows
    }
  }

  const alerts = {
    queue: [],
    current: null,
    timer: null,

    show(data, message, replayed) {
      if (replayed) return;
      if (options.types && !options.types.includes(data.kind)) return;
      this.queue.push(data);
      if (this.queue.length > 50) this.queue.shift();
      if (!this.current) this.next();
    },

    next() {
      const data = this.queue.shift();
      if (!data) {
        this.current = null;
        return;
      }
      const card = el("div", `alert alert-${data.kind}`);
      const title = el("div", "alert-title");
      if (data.title) {
        title.textContent = data.title;
      } else {
        title.append(el("span", "alert-name", data.name || "Someone"), " ", headline(data));
      }
      const picture = data.image || options.image;
      if (MEDIA_ID.test(picture)) card.append(image(upload(picture), "alert-image"));
      card.append(title);
      if (data.message) card.append(el("div", "alert-message", data.message));
      box.replaceChildren(card);
      this.current = card;
      chime(data.sound);
      this.timer = setTimeout(() => leave(card, () => this.next()), options.duration * 1000);
    },

    clear() {
      clearTimeout(this.timer);
      this.queue = [];
      this.current = null;
      box.replaceChildren();
    },
  };

  // -- general: cards from a fixed set of templates --------------------------------------------

  const general = {
    timer: null,

    show(data, message, replayed) {
      const template = data.template || "card";
      const card = el("div", `card card-${template}`);
      if (template === "card" && data.image) card.append(image(data.image, "card-image"));
      if (data.title) card.append(el("div", "card-title", data.title));
      if (template === "counter") card.append(el("div", "card-value", data.value));
      if (data.body) card.append(el("div", "card-body", data.body));
      if (template === "list" && Array.isArray(data.items)) {
        const list = el("ul", "card-items");
        for (const item of data.items) list.append(el("li", "card-item", item));
        card.append(list);
      }
      if (template === "fields" && Array.isArray(data.fields)) {
        const rows = el("dl", "card-fields");
        for (const [name, value] of data.fields) {
          rows.append(el("dt", "card-field-name", name), el("dd", "card-field-value", value));
        }
        card.append(rows);
      }
      clearTimeout(this.timer);
      box.replaceChildren(card);
      const duration = Number(data.duration || 0);
      if (duration > 0) {
        const age = replayed ? Math.max(0, (serverNow() - message.at) / 1000) : 0;
        this.timer = setTimeout(() => leave(card), Math.max(0.5, duration - age) * 1000);
      }
    },

    clear() {
      clearTimeout(this.timer);
      box.replaceChildren();
    },
  };

  const views = { ticker, media, alerts, general };
  const view = views[kind] || general;

  // -- the connection --------------------------------------------------------------------------

  const seen = new Set();
  const seenOrder = [];

  function firstTime(id) {
    if (!id) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > 500) seen.delete(seenOrder.shift());
    return true;
  }

  function apply(message, replayed) {
    if (message.kind !== kind || !message.data || !firstTime(message.id)) return;
    if (message.data.clear) {
      view.clear();
      return;
    }
    view.show(message.data, message, replayed);
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }

  let socket = null;
  let attempts = 0;
  let heartbeat = 15;
  let lastHeard = 0;

  function connect() {
    root.dataset.state = attempts ? "reconnecting" : "connecting";
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}${path}/ws`);
    socket = ws;
    ws.onmessage = (event) => {
      lastHeard = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "hello") {
        attempts = 0;
        heartbeat = Number(message.heartbeat) || heartbeat;
        clockSkew = Number(message.now) - Date.now() || 0;
        root.dataset.state = "live";
      } else if (message.type === "state") {
        for (const item of message.items || []) apply(item, true);
      } else if (message.type === "update") {
        apply(message, false);
      } else if (message.type === "ping") {
        ws.send('{"type":"pong"}');
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4001) {
        // the streamer replaced the URL: this one shows nothing any more
        root.dataset.state = "revoked";
        view.clear();
        return;
      }
      retry();
    };
  }

  function retry() {
    root.dataset.state = "reconnecting";
    const delay = Math.min(30000, 500 * 2 ** attempts) * (0.75 + Math.random() * 0.5);
    attempts += 1;
    setTimeout(connect, delay);
  }

  // a server that went silent (a dead connection nobody closed) is left for a new one
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastHeard > heartbeat * 2500) {
      const stale = socket;
      socket = null;
      stale.close();
      retry();
    }
  }, 1000);

  layout();
  connect();
})();
