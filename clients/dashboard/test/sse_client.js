// A minimal Server-Sent Events client for tests and benchmarks: connects
// with node:http, parses "event:"/"data:" frames and keeps them.
import http from 'node:http';

export class SseClient {
  // parse: false only counts bytes (a cheap simulated browser).
  constructor(url, { onEvent = null, keep = true, parse = true } = {}) {
    this.parse = parse;
    this.url = url;
    this.events = [];
    this.counts = {};
    this.bytes = 0;
    this.onEvent = onEvent;
    this.keep = keep;
    this.res = null;
    this.closed = false;
    this.buffer = '';
    this.opened = new Promise((resolve, reject) => {
      this.req = http.get(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
        this.res = res;
        res.setEncoding('utf8');
        res.on('data', (chunk) => this.#feed(chunk));
        res.on('end', () => {
          this.closed = true;
        });
        res.on('error', () => {
          this.closed = true;
        });
        resolve(this);
      });
      this.req.on('error', (err) => {
        this.closed = true;
        reject(err);
      });
    });
  }

  #feed(chunk) {
    this.bytes += chunk.length;
    if (!this.parse) return;
    this.buffer += chunk;
    let at;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (!data.length) continue;
      const parsed = JSON.parse(data.join('\n'));
      this.counts[event] = (this.counts[event] || 0) + 1;
      if (this.keep) this.events.push({ event, data: parsed });
      this.onEvent?.(event, parsed);
    }
  }

  of(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  // Stops reading: the socket's buffers fill and the server sees it slow.
  pause() {
    this.res.pause();
  }

  resume() {
    this.res.resume();
  }

  close() {
    this.req.destroy();
    this.closed = true;
  }
}
