-- recordings.lua: wrk script for bench/api.sh. Each request lists a
-- different one-hour window of a different camera, stepping through the
-- cameras and through 22 hours 7919 s at a time (a prime, so 79,200
-- requests pass before a window comes back), each wrk thread in its own
-- stretch of that cycle: the listing cache almost never has the answer,
-- and this measures the database path. The requests are formatted once,
-- in init: formatting them per request in Lua costs wrk more CPU than the
-- server spends answering.
--   wrk ... -s bench/recordings.lua URL -- CAM1,CAM2,... FIRST_UNIX_SECOND
local threads, reqs, n = 0, {}, 0

function setup(thread)
	thread:set("id", threads)
	threads = threads + 1
end

function init(args)
	local cams = {}
	for c in string.gmatch(args[1], "[^,]+") do
		cams[#cams + 1] = c
	end
	local first, base = tonumber(args[2]), id * 30000
	for i = 1, 30000 do
		local from = first + ((base + i) * 7919) % (22 * 3600)
		local path = string.format("/api/v1/cameras/%s/recordings?from=%s&to=%s", cams[(base + i) % #cams + 1],
			os.date("!%Y-%m-%dT%H:%M:%SZ", from), os.date("!%Y-%m-%dT%H:%M:%SZ", from + 3600))
		reqs[i] = wrk.format(nil, path)
	end
end

function request()
	n = n % #reqs + 1
	return reqs[n]
end
