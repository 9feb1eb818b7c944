-- Applies a page's writes and moves the projection's checkpoint, as one
-- script Redis runs alone: the compare-and-set of the checkpoint is what
-- keeps the page exactly-once, and no other client sees the writes
-- without the checkpoint.
--
-- KEYS: 1 the checkpoint hash, 2 the parked events (id -> record),
-- 3 the parked events' id counter, 4 the parked events by position
-- (tx/position -> id).
-- ARGV: 1 "1" to move the checkpoint, 2 and 3 the checkpoint as the runner
-- knows it (tx, position), 4 and 5 the new one, 6 the time, then the
-- operations: "c", the number of words, the command's words; or "p", the
-- event's tx/position, the record (a parked event).
--
-- Returns the checkpoint's revision, or nil when another runner moved it
-- (then nothing was written).
local checkpoint = redis.call('HMGET', KEYS[1], 'tx', 'position', 'revision')
local move = ARGV[1] == '1'
if move and ((checkpoint[1] or '0') ~= ARGV[2] or (checkpoint[2] or '0') ~= ARGV[3]) then
    return nil
end
local i = 7
while i <= #ARGV do
    if ARGV[i] == 'c' then
        local words = tonumber(ARGV[i + 1])
        redis.call(unpack(ARGV, i + 2, i + 1 + words))
        i = i + 2 + words
    else
        local id = redis.call('HGET', KEYS[4], ARGV[i + 1])
        if not id then
            id = redis.call('INCR', KEYS[3])
            redis.call('HSET', KEYS[4], ARGV[i + 1], id)
        end
        redis.call('HSET', KEYS[2], id, ARGV[i + 2])
        i = i + 3
    end
end
local revision = tonumber(checkpoint[3] or '0')
if move then
    revision = revision + 1
    redis.call('HSET', KEYS[1], 'tx', ARGV[4], 'position', ARGV[5], 'revision', revision, 'updated_at', ARGV[6])
    redis.call('HDEL', KEYS[1], 'error')
end
return revision
