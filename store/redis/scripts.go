package redisslots

import "github.com/redis/go-redis/v9"

// Every script works on one tenant's four keys (one cluster slot, by the
// {tenant} hash tag) and reads the time from Redis (TIME), so replicas'
// clocks never decide a lease:
//
//	KEYS[1] run    ZSET ticket id → lease expiry (ms, Redis time)
//	KEYS[2] queue  ZSET ticket id → order (class-major, arrival-minor)
//	KEYS[3] wait   ZSET ticket id → waiter heartbeat expiry (ms)
//	KEYS[4] meta   HASH streams (latest limit), seq (arrival counter), hold (EWMA ms)
//
// ARGV[1] is always the wake channel: every grant publishes the granted ids
// there (space-separated), so their replicas stop waiting at once.
//
// Each script first purges (expired leases, waiters whose heartbeat lapsed)
// and then fills (grants queue heads while the latest limit has room), so a
// dead replica's slots go to the queue at the next call of anyone's.
const prelude = `
local run, queue, wait, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function purge()
  redis.call('ZREMRANGEBYSCORE', run, '-inf', now)
  local dead = redis.call('ZRANGEBYSCORE', wait, '-inf', now)
  for _, id in ipairs(dead) do
    redis.call('ZREM', queue, id)
  end
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', wait, '-inf', now)
  end
end

local function limit()
  return tonumber(redis.call('HGET', meta, 'streams') or '0') or 0
end

-- fill grants the queue's heads while running < streams. A granted lease
-- expires when the waiter's heartbeat would have: its own replica set that
-- deadline with its own TTL, and its renewer keeps it alive from there.
local function fill(streams)
  local free = streams - redis.call('ZCARD', run)
  if free <= 0 then return end
  local heads = redis.call('ZRANGE', queue, 0, free - 1)
  if #heads == 0 then return end
  for _, id in ipairs(heads) do
    local exp = redis.call('ZSCORE', wait, id) or (now + 15000)
    redis.call('ZREM', queue, id)
    redis.call('ZREM', wait, id)
    redis.call('ZADD', run, exp, id)
  end
  redis.call('PUBLISH', channel, table.concat(heads, ' '))
end

local function hold()
  return math.floor(tonumber(redis.call('HGET', meta, 'hold') or '0') or 0)
end
`

// acquire: ARGV channel, id, streams, queue cap, class (0..3), lease ms.
// Returns {1, in use} granted, {0, position} queued, {-1, queued, hold ms}
// queue full.
var acquireScript = redis.NewScript(prelude + `
local id, streams, cap = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local class, lease = tonumber(ARGV[5]), tonumber(ARGV[6])
purge()
redis.call('HSET', meta, 'streams', streams)
redis.call('PEXPIRE', meta, 604800000)
fill(streams)
local running = redis.call('ZCARD', run)
local queued = redis.call('ZCARD', queue)
if running < streams and queued == 0 then
  redis.call('ZADD', run, now + lease, id)
  return {1, running + 1}
end
if queued >= cap then
  return {-1, queued, hold()}
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('ZADD', queue, (3 - class) * 281474976710656 + seq, id)
redis.call('ZADD', wait, now + lease, id)
return {0, queued + 1}
`)

// check (a waiter's poll or wake-up): ARGV channel, id. Returns {1, in use}
// granted, {0, position} still queued, {-2} gone (its heartbeat lapsed).
var checkScript = redis.NewScript(prelude + `
local id = ARGV[2]
purge()
fill(limit())
if redis.call('ZSCORE', run, id) then
  return {1, redis.call('ZCARD', run)}
end
local rank = redis.call('ZRANK', queue, id)
if rank then return {0, rank + 1} end
return {-2}
`)

// leave (a waiter gives up): ARGV channel, id. Returns 0 left the queue, 1
// it had been granted (the caller holds the lease now), -1 neither.
var leaveScript = redis.NewScript(prelude + `
local id = ARGV[2]
local left = redis.call('ZREM', queue, id)
redis.call('ZREM', wait, id)
purge()
fill(limit())
if left == 1 then return 0 end
if redis.call('ZSCORE', run, id) then return 1 end
return -1
`)

// release: ARGV channel, id, held ms. Frees the lease, folds the hold time
// into the tenant's EWMA (alpha 0.2, as admission.Controller) and grants
// the queue's head. Returns 1 released, 0 the lease had already expired.
var releaseScript = redis.NewScript(prelude + `
local id, held = ARGV[2], tonumber(ARGV[3])
local removed = redis.call('ZREM', run, id)
purge()
if removed == 1 then
  local h = tonumber(redis.call('HGET', meta, 'hold') or '')
  if h then h = 0.2 * held + 0.8 * h else h = held end
  redis.call('HSET', meta, 'hold', h)
end
fill(limit())
return removed
`)

// renew (one tenant's share of the renewer's pipeline): ARGV channel, lease
// ms, streams, number of leases n, then n lease ids, then waiter ids.
// Extends every lease and heartbeat; a lease that expired (Redis was out of
// reach for longer than the TTL, or restarted empty) comes back only while
// the tenant is under its limit, so re-adding never overshoots. Returns the
// lease ids that could not come back.
var renewScript = redis.NewScript(prelude + `
local lease, streams, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
purge()
local lost = {}
for i = 5, 4 + n do
  local id = ARGV[i]
  if redis.call('ZSCORE', run, id) or redis.call('ZCARD', run) < streams then
    redis.call('ZADD', run, now + lease, id)
  else
    lost[#lost + 1] = id
  end
end
for i = 5 + n, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', wait, id) then
    redis.call('ZADD', wait, now + lease, id)
  elseif redis.call('ZSCORE', run, id) then
    -- granted, and its waiter has not noticed yet
    redis.call('ZADD', run, now + lease, id)
  end
end
fill(limit())
return lost
`)

// state (Snapshot): ARGV channel. Returns {running, queued}.
var stateScript = redis.NewScript(prelude + `
purge()
fill(limit())
return {redis.call('ZCARD', run), redis.call('ZCARD', queue)}
`)
