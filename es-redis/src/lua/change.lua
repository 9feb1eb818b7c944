-- Changes a projection's checkpoint outside a page: ARGV 1 "stop" records
-- the error ARGV 2; "reset" moves it back to the start. ARGV 3 is the
-- time. KEYS: 1 the checkpoint hash.
-- Returns the new revision, or nil when the projection has no checkpoint.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return nil
end
if ARGV[1] == 'stop' then
    redis.call('HSET', KEYS[1], 'error', ARGV[2])
else
    redis.call('HSET', KEYS[1], 'tx', '0', 'position', '0', 'updated_at', ARGV[3])
    redis.call('HDEL', KEYS[1], 'error')
end
return redis.call('HINCRBY', KEYS[1], 'revision', 1)
