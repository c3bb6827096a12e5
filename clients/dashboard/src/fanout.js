// Fans Server-Sent Events out to any number of browsers. Each message is
// framed once and the same bytes are written to every client. A client whose
// socket is backed up (more than highWaterBytes waiting in its response) is
// skipped, and told how many messages it missed once it drains; one that
// stays backed up for stallMs is disconnected. No client ever makes another
// wait.

export function frame(event, data) {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  // JSON has no raw newlines, so one data: line carries it.
  return `event: ${event}\ndata: ${body}\n\n`;
}

export class Fanout {
  constructor({ highWaterBytes = 1 << 20, stallMs = 30000, heartbeatMs = 15000, now = Date.now } = {}) {
    this.highWaterBytes = highWaterBytes;
    this.stallMs = stallMs;
    this.now = now;
    this.clients = new Set();
    this.nextId = 1;
    // Totals since start, for the server's own status.
    this.stats = { messages: 0, writes: 0, skipped: 0, disconnectedSlow: 0 };
    this.heartbeat = heartbeatMs > 0 ? setInterval(() => this.comment('hb'), heartbeatMs) : null;
    this.heartbeat?.unref?.();
  }

  // Takes over an http.ServerResponse as an SSE stream. `first` is a list of
  // [event, data] pairs sent to this client alone before any broadcast.
  add(res, first = []) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay?.(true);
    const client = { id: this.nextId++, res, sent: 0, dropped: 0, pendingDrops: 0, pendingByEvent: {}, backedUpSince: 0 };
    this.clients.add(client);
    const remove = () => this.clients.delete(client);
    res.on('close', remove);
    res.on('error', remove);
    res.on('drain', () => this.#flushDropNotice(client));
    res.write(': ringwatch-dashboard\nretry: 1000\n\n');
    for (const [event, data] of first) this.#write(client, frame(event, data));
    return client;
  }

  get size() {
    return this.clients.size;
  }

  // Sends one event to every client; returns how many got it.
  broadcast(event, data) {
    const bytes = frame(event, data);
    this.stats.messages++;
    let delivered = 0;
    const now = this.now();
    for (const client of this.clients) {
      if (client.res.writableLength > this.highWaterBytes) {
        this.#skip(client, event);
        if (!client.backedUpSince) client.backedUpSince = now;
        if (now - client.backedUpSince >= this.stallMs) this.#disconnect(client);
        continue;
      }
      client.backedUpSince = 0;
      this.#flushDropNotice(client);
      this.#write(client, bytes);
      delivered++;
    }
    return delivered;
  }

  // Sends to one client only (its own tail, say), with the same skipping.
  send(client, event, data) {
    if (!this.clients.has(client)) return false;
    if (client.res.writableLength > this.highWaterBytes) {
      this.#skip(client, event);
      return false;
    }
    this.#flushDropNotice(client);
    this.#write(client, frame(event, data));
    return true;
  }

  comment(text) {
    for (const client of this.clients) {
      if (client.res.writableLength <= this.highWaterBytes) client.res.write(`: ${text}\n\n`);
    }
  }

  close() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }

  #write(client, bytes) {
    client.res.write(bytes);
    client.sent++;
    this.stats.writes++;
  }

  #skip(client, event) {
    client.dropped++;
    client.pendingDrops++;
    client.pendingByEvent[event] = (client.pendingByEvent[event] || 0) + 1;
    this.stats.skipped++;
  }

  // Tells a client that drained what it missed: {missed, total, byEvent}.
  #flushDropNotice(client) {
    if (client.pendingDrops === 0 || !this.clients.has(client)) return;
    const notice = { missed: client.pendingDrops, total: client.dropped, byEvent: client.pendingByEvent };
    client.pendingDrops = 0;
    client.pendingByEvent = {};
    this.#write(client, frame('dropped', notice));
  }

  #disconnect(client) {
    this.clients.delete(client);
    this.stats.disconnectedSlow++;
    client.res.destroy();
  }
}
