-- Takes a projection's checkpoint over: created at the start of the order
-- the first time, cleared of the error it last stopped on, listed among
-- the projections.
--
-- KEYS: 1 the checkpoint hash, 2 the set of projections. ARGV: 1 the
-- projection, 2 the time.
-- Returns tx, position, revision.
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HSET', KEYS[1], 'tx', '0', 'position', '0', 'revision', '0', 'updated_at', ARGV[2])
end
redis.call('HDEL', KEYS[1], 'error')
local revision = redis.call('HINCRBY', KEYS[1], 'revision', 1)
redis.call('SADD', KEYS[2], ARGV[1])
local checkpoint = redis.call('HMGET', KEYS[1], 'tx', 'position')
return { checkpoint[1], checkpoint[2], revision }
