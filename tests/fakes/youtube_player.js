/* A stand-in for YouTube's IFrame Player API script (https://www.youtube.com/iframe_api),
 * served by FakeYouTube at /iframe_api: the YT.Player surface the media page uses, with a
 * clock the test drives instead of a video. Like the real one it calls
 * onYouTubeIframeAPIReady once loaded, replaces the element it is given with an <iframe> of
 * <host>/embed/<video id>, fires onReady, then onStateChange as the video plays, pauses and
 * ends, and onError with the player's error codes.
 *
 * The test drives it through window.ytStandIn: seek(seconds) moves the video (it buffers and
 * plays on, as a seek does), end() plays it to its end, fail(code) makes it fail; calls lists
 * what the page asked of the player ("load:<id>@<start>", "pause", "play", "volume:<n>").
 */
(() => {
  "use strict";

  const State = { UNSTARTED: -1, ENDED: 0, PLAYING: 1, PAUSED: 2, BUFFERING: 3, CUED: 5 };
  const standIn = { players: [], calls: [], durations: {} };

  class Player {
    constructor(element, options) {
      const target = typeof element === "string" ? document.getElementById(element) : element;
      this.options = options;
      this.events = options.events || {};
      this.volume = 100;
      this.state = State.UNSTARTED;
      this.frame = document.createElement("iframe");
      this.frame.id = target.id;
      this.frame.className = target.className;
      target.replaceWith(this.frame);
      standIn.players.push(this);
      standIn.player = this;
      const vars = options.playerVars || {};
      this.load(options.videoId, Number(vars.start) || 0);
      setTimeout(() => {
        this.fire("onReady", undefined);
        if (vars.autoplay) this.set(State.PLAYING);
      }, 0);
    }

    load(videoId, start) {
      standIn.calls.push(`load:${videoId}@${start}`);
      this.videoId = videoId;
      this.time = start;
      this.frame.src = `${this.options.host}/embed/${videoId}`;
    }

    fire(name, data) {
      if (this.events[name]) this.events[name]({ target: this, data });
    }

    set(state) {
      this.state = state;
      this.fire("onStateChange", state);
    }

    loadVideoById(what) {
      const videoId = typeof what === "string" ? what : what.videoId;
      const start = typeof what === "string" ? 0 : Number(what.startSeconds) || 0;
      this.load(videoId, start);
      this.set(State.PLAYING);
    }

    playVideo() {
      standIn.calls.push("play");
      if (this.state !== State.PLAYING) this.set(State.PLAYING);
    }

    pauseVideo() {
      standIn.calls.push("pause");
      if (this.state !== State.PAUSED) this.set(State.PAUSED);
    }

    stopVideo() {
      standIn.calls.push("stop");
      this.state = State.CUED;
    }

    setVolume(volume) {
      standIn.calls.push(`volume:${volume}`);
      this.volume = volume;
    }

    getVolume() {
      return this.volume;
    }

    getCurrentTime() {
      return this.time;
    }

    getDuration() {
      return standIn.durations[this.videoId] || 0;
    }

    getPlayerState() {
      return this.state;
    }

    getIframe() {
      return this.frame;
    }

    destroy() {
      this.frame.remove();
    }
  }

  standIn.seek = (seconds) => {
    const player = standIn.player;
    player.time = seconds;
    const was = player.state;
    player.set(State.BUFFERING);
    player.set(was === State.PAUSED ? State.PAUSED : State.PLAYING);
  };
  standIn.end = () => {
    const player = standIn.player;
    player.time = player.getDuration();
    player.set(State.ENDED);
  };
  standIn.fail = (code) => standIn.player.fire("onError", code);

  window.YT = { Player, PlayerState: State, loaded: 1 };
  window.ytStandIn = standIn;
  setTimeout(() => {
    if (typeof window.onYouTubeIframeAPIReady === "function") window.onYouTubeIframeAPIReady();
  }, 0);
})();
