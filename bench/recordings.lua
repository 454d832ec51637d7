-- recordings.lua: wrk script for bench/api.sh. Each request lists a
-- different one-hour window of a different camera, stepping through the
-- cameras and through 22 hours a second at a time, so that the listing
-- cache almost never has the answer: this measures the database path.
--   wrk ... -s bench/recordings.lua URL -- CAM1,CAM2,... FIRST_UNIX_SECOND
local cams, first, n = {}, 0, 0

function init(args)
	for c in string.gmatch(args[1], "[^,]+") do
		cams[#cams + 1] = c
	end
	first = tonumber(args[2])
	n = math.random(0, 1000000)
end

function request()
	n = n + 1
	local from = first + (n * 7919) % (22 * 3600)
	local path = string.format("/api/v1/cameras/%s/recordings?from=%s&to=%s", cams[n % #cams + 1],
		os.date("!%Y-%m-%dT%H:%M:%SZ", from), os.date("!%Y-%m-%dT%H:%M:%SZ", from + 3600))
	return wrk.format(nil, path)
end
