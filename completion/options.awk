	/^Usage:/ { usage = 1 }
	usage && /^$/ { usage = 0 }
	!usage && /^ +-/ { line = $0; sub(/^ +/, "", line); split(line, parts, /  +/); line = parts[1] }
	!usage && !/^ +-/ { next }
	usage { line = $0 }
	{ while (match(line, /--[a-z][a-z0-9-]*/)) { print substr(line, RSTART, RLENGTH); line = substr(line, RSTART + RLENGTH) } }
