// openapi_check.mjs: checks docs/api.yaml and answers of a running nvrd
// against it, for tests/integration/openapi.test. Node only, no packages.
//
// docs/api.yaml is written in the JSON subset of YAML 1.2, so JSON.parse
// reads it. Only a subset of OpenAPI 3.0 and JSON Schema is implemented,
// and anything outside it is an error (`lint`), so the spec cannot use a
// keyword that would silently go unchecked:
//   schemas: $ref (alone), type (required), nullable, enum, description,
//     example, default; object: properties, required, additionalProperties
//     (true or false); array: items; string: format (uuid, date-time;
//     binary outside JSON), pattern, minLength, maxLength; integer and
//     number: minimum, maximum. oneOf (two or more schemas, with
//     description only beside it): exactly one must match.
//   responses: numeric status codes only (no "default", no "4XX").
//
// Usage:
//   node openapi_check.mjs lint SPEC
//   node openapi_check.mjs routes SPEC
//       "METHOD /path/* role,role" per operation ("-" for none), sorted,
//       as `nvrd --print-routes` prints them
//   node openapi_check.mjs check SPEC METHOD URL STATUS HEADERS BODY
//       one exchange: URL as requested (path and query), the final
//       response's status, its headers (curl -D, several blocks allowed:
//       the last counts) and body files
//   node openapi_check.mjs response SPEC NAME STATUS HEADERS BODY
//       an answer against components/responses/NAME (for answers that
//       belong to no operation: unknown paths, wrong methods)
// Exit status 0 when it conforms; 1 with the reasons on stderr; 2 on bad
// usage.
import { readFileSync } from 'node:fs';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

class SpecError extends Error {}

function loadSpec(file) {
	return JSON.parse(readFileSync(file, 'utf8'));
}

function resolve(spec, ref) {
	if (typeof ref !== 'string' || !ref.startsWith('#/'))
		throw new SpecError(`unsupported $ref ${JSON.stringify(ref)} (only local "#/...")`);
	let o = spec;
	for (const part of ref.slice(2).split('/')) {
		const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
		if (o === null || typeof o !== 'object' || !(key in o))
			throw new SpecError(`$ref ${ref} does not resolve`);
		o = o[key];
	}
	return o;
}

// An object that may be {"$ref": ...}: the object it stands for.
function deref(spec, o) {
	const seen = new Set();
	while (o && typeof o === 'object' && '$ref' in o) {
		if (seen.has(o.$ref))
			throw new SpecError(`$ref loop at ${o.$ref}`);
		seen.add(o.$ref);
		if (Object.keys(o).length !== 1)
			throw new SpecError(`$ref ${o.$ref} has siblings (ignored by OpenAPI 3.0): ${Object.keys(o)}`);
		o = resolve(spec, o.$ref);
	}
	return o;
}

// ---- schema validation ------------------------------------------------------

const ANNOTATIONS = ['description', 'example', 'default', 'title'];
const BY_TYPE = {
	object: ['properties', 'required', 'additionalProperties'],
	array: ['items'],
	string: ['format', 'pattern', 'minLength', 'maxLength'],
	integer: ['minimum', 'maximum'],
	number: ['minimum', 'maximum'],
	boolean: [],
};
const FORMATS = { string: ['uuid', 'date-time', 'binary'] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

function isDateTime(s) {
	const m = DATE_TIME.exec(s);
	if (!m)
		return false;
	const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
	const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
	return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && sec <= 60 &&
	    (m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59));
}

// Checks a schema's own form, once per schema object: keywords known and
// fitting its type, required names among the properties, patterns that
// compile, examples and defaults that validate.
function lintSchema(spec, schema, where, seen) {
	if (schema === null || typeof schema !== 'object' || Array.isArray(schema))
		throw new SpecError(`${where}: a schema must be an object`);
	if (seen.has(schema))
		return;
	seen.add(schema);
	if ('$ref' in schema) {
		const target = deref(spec, schema);
		lintSchema(spec, target, schema.$ref, seen);
		return;
	}
	if ('oneOf' in schema) {
		for (const k of Object.keys(schema))
			if (k !== 'oneOf' && k !== 'description')
				throw new SpecError(`${where}: keyword "${k}" beside oneOf is not supported by this checker`);
		if (!Array.isArray(schema.oneOf) || schema.oneOf.length < 2)
			throw new SpecError(`${where}: oneOf must list two or more schemas`);
		schema.oneOf.forEach((s, i) => lintSchema(spec, s, `${where} oneOf[${i}]`, seen));
		return;
	}
	const type = schema.type;
	if (!(type in BY_TYPE))
		throw new SpecError(`${where}: "type" missing or not one of ${Object.keys(BY_TYPE)}`);
	const allowed = new Set(['type', 'nullable', 'enum', ...ANNOTATIONS, ...BY_TYPE[type]]);
	for (const k of Object.keys(schema))
		if (!allowed.has(k))
			throw new SpecError(`${where}: keyword "${k}" is not supported for type ${type} by this checker`);
	if ('nullable' in schema && typeof schema.nullable !== 'boolean')
		throw new SpecError(`${where}: nullable must be a boolean`);
	if ('enum' in schema && (!Array.isArray(schema.enum) || schema.enum.length === 0))
		throw new SpecError(`${where}: enum must be a non-empty array`);
	for (const k of ['minimum', 'maximum', 'minLength', 'maxLength'])
		if (k in schema && typeof schema[k] !== 'number')
			throw new SpecError(`${where}: ${k} must be a number`);
	if ('format' in schema && !(FORMATS[type] || []).includes(schema.format))
		throw new SpecError(`${where}: format "${schema.format}" is not supported by this checker`);
	if ('pattern' in schema)
		new RegExp(schema.pattern, 'u'); // throws if it does not compile
	if (type === 'object') {
		const props = schema.properties || {};
		if (typeof props !== 'object' || Array.isArray(props))
			throw new SpecError(`${where}: properties must be an object`);
		if ('additionalProperties' in schema && typeof schema.additionalProperties !== 'boolean')
			throw new SpecError(`${where}: additionalProperties must be true or false here (a schema is not supported)`);
		for (const r of schema.required || [])
			if (!(r in props))
				throw new SpecError(`${where}: required "${r}" is not among the properties`);
		for (const [name, p] of Object.entries(props))
			lintSchema(spec, p, `${where}.${name}`, seen);
	}
	if (type === 'array') {
		if (!('items' in schema))
			throw new SpecError(`${where}: an array needs items`);
		lintSchema(spec, schema.items, `${where}[]`, seen);
	}
	for (const k of ['example', 'default']) {
		if (k in schema) {
			const errs = [];
			validate(spec, schema, schema[k], `${where} ${k}`, errs);
			if (errs.length)
				throw new SpecError(errs.join('; '));
		}
	}
	for (const v of schema.enum || []) {
		const errs = [];
		validate(spec, { ...schema, enum: undefined }, v, `${where} enum value`, errs);
		if (errs.length)
			throw new SpecError(errs.join('; '));
	}
}

function typeOf(v) {
	if (v === null)
		return 'null';
	if (Array.isArray(v))
		return 'array';
	if (typeof v === 'number')
		return Number.isInteger(v) ? 'integer' : 'number';
	return typeof v;
}

// Validates value against schema; reasons go to errs.
function validate(spec, schema, value, where, errs) {
	if ('$ref' in schema)
		return validate(spec, deref(spec, schema), value, where, errs);
	if ('oneOf' in schema) {
		const n = schema.oneOf.filter((alt) => {
			const e = [];
			validate(spec, alt, value, where, e);
			return e.length === 0;
		}).length;
		if (n !== 1)
			errs.push(`${where}: ${JSON.stringify(value)?.slice(0, 60)} matches ${n} of oneOf's schemas, not exactly one`);
		return;
	}
	if (value === null) {
		if (!schema.nullable)
			errs.push(`${where}: null, but not nullable`);
		return;
	}
	const t = typeOf(value);
	if (!(t === schema.type || (schema.type === 'number' && t === 'integer'))) {
		errs.push(`${where}: ${t} ${JSON.stringify(value)?.slice(0, 60)}, expected ${schema.type}`);
		return;
	}
	if (schema.enum && !schema.enum.includes(value))
		errs.push(`${where}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
	switch (schema.type) {
	case 'string':
		if ('minLength' in schema && [...value].length < schema.minLength)
			errs.push(`${where}: shorter than ${schema.minLength}`);
		if ('maxLength' in schema && [...value].length > schema.maxLength)
			errs.push(`${where}: longer than ${schema.maxLength}`);
		if ('pattern' in schema && !new RegExp(schema.pattern, 'u').test(value))
			errs.push(`${where}: ${JSON.stringify(value)} does not match /${schema.pattern}/`);
		if (schema.format === 'uuid' && !UUID.test(value))
			errs.push(`${where}: ${JSON.stringify(value)} is not a UUID`);
		if (schema.format === 'date-time' && !isDateTime(value))
			errs.push(`${where}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
		if (schema.format === 'binary')
			errs.push(`${where}: format binary cannot be checked in JSON`);
		break;
	case 'integer':
	case 'number':
		if ('minimum' in schema && value < schema.minimum)
			errs.push(`${where}: ${value} is below ${schema.minimum}`);
		if ('maximum' in schema && value > schema.maximum)
			errs.push(`${where}: ${value} is above ${schema.maximum}`);
		break;
	case 'object': {
		const props = schema.properties || {};
		for (const r of schema.required || [])
			if (!(r in value))
				errs.push(`${where}: required "${r}" is missing`);
		for (const [k, v] of Object.entries(value)) {
			if (k in props)
				validate(spec, props[k], v, `${where}.${k}`, errs);
			else if (schema.additionalProperties === false)
				errs.push(`${where}: "${k}" is not in the schema (additionalProperties: false)`);
		}
		break;
	}
	case 'array':
		value.forEach((v, i) => validate(spec, schema.items, v, `${where}[${i}]`, errs));
		break;
	}
}

// A query, path or header value as the schema's type, or undefined.
function coerce(schema, text) {
	if (schema.type === 'integer')
		return /^-?[0-9]+$/.test(text) ? Number(text) : undefined;
	if (schema.type === 'number')
		return /^-?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : undefined;
	if (schema.type === 'boolean')
		return text === 'true' ? true : text === 'false' ? false : undefined;
	return text;
}

function validateText(spec, schema, text, where, errs) {
	const s = deref(spec, schema);
	const v = coerce(s, text);
	if (v === undefined)
		errs.push(`${where}: ${JSON.stringify(text)} is not a ${s.type}`);
	else
		validate(spec, s, v, where, errs);
}

// ---- the spec's own form -------------------------------------------------------

function checkKeys(o, allowed, where) {
	if (o === null || typeof o !== 'object' || Array.isArray(o))
		throw new SpecError(`${where}: must be an object`);
	for (const k of Object.keys(o))
		if (!allowed.includes(k) && !k.startsWith('x-'))
			throw new SpecError(`${where}: "${k}" is not supported by this checker`);
}

function lintResponse(spec, r, where, seen) {
	r = deref(spec, r);
	checkKeys(r, ['description', 'headers', 'content'], where);
	if (typeof r.description !== 'string')
		throw new SpecError(`${where}: a response needs a description`);
	for (const [name, h0] of Object.entries(r.headers || {})) {
		const h = deref(spec, h0);
		checkKeys(h, ['description', 'required', 'schema'], `${where} header ${name}`);
		lintSchema(spec, h.schema, `${where} header ${name}`, seen);
	}
	for (const [type, media] of Object.entries(r.content || {})) {
		checkKeys(media, ['schema'], `${where} ${type}`);
		lintSchema(spec, media.schema, `${where} ${type}`, seen);
		if (type !== 'application/json' && deref(spec, media.schema).type !== 'string')
			throw new SpecError(`${where} ${type}: only application/json bodies are validated; others must be strings`);
	}
}

function lintParam(spec, p, where, seen) {
	p = deref(spec, p);
	checkKeys(p, ['name', 'in', 'required', 'description', 'schema'], where);
	if (!['query', 'path', 'header'].includes(p.in))
		throw new SpecError(`${where}: parameters "in" ${p.in} is not supported`);
	if (p.in === 'path' && p.required !== true)
		throw new SpecError(`${where}: path parameter ${p.name} must be required`);
	lintSchema(spec, p.schema, `${where} (${p.name})`, seen);
	return p;
}

function lint(spec) {
	const seen = new Set();
	checkKeys(spec, ['openapi', 'info', 'servers', 'paths', 'components', 'security', 'tags'], 'root');
	if (spec.openapi !== '3.0.3')
		throw new SpecError(`openapi is ${spec.openapi}, expected 3.0.3`);
	checkKeys(spec.components, ['schemas', 'responses', 'parameters', 'headers', 'securitySchemes', 'requestBodies'],
	    'components');
	const schemes = spec.components.securitySchemes || {};
	for (const [name, s] of Object.entries(schemes))
		checkKeys(s, ['type', 'scheme', 'in', 'name', 'description'], `securitySchemes ${name}`);
	for (const [path, item] of Object.entries(spec.paths)) {
		checkKeys(item, [...METHODS, 'parameters', 'summary', 'description'], path);
		const templ = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
		for (const m of METHODS.filter((m) => m in item)) {
			const op = item[m], where = `${m.toUpperCase()} ${path}`;
			checkKeys(op, ['summary', 'description', 'operationId', 'tags', 'parameters', 'requestBody', 'responses',
				'security'], where);
			if (!Array.isArray(op['x-nvr-roles']))
				throw new SpecError(`${where}: x-nvr-roles (the roles allowed, [] for none) is missing`);
			for (const req of op.security || [])
				for (const s of Object.keys(req))
					if (!(s in schemes))
						throw new SpecError(`${where}: security scheme ${s} is not defined`);
			const params = [...(item.parameters || []), ...(op.parameters || [])].map((p) => lintParam(spec, p, where, seen));
			const inPath = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
			if (JSON.stringify(inPath) !== JSON.stringify([...templ].sort()))
				throw new SpecError(`${where}: path parameters ${inPath} do not match the template's ${templ}`);
			if (op.requestBody) {
				const b = deref(spec, op.requestBody);
				checkKeys(b, ['description', 'required', 'content'], `${where} requestBody`);
				for (const [type, media] of Object.entries(b.content)) {
					checkKeys(media, ['schema'], `${where} requestBody ${type}`);
					lintSchema(spec, media.schema, `${where} requestBody`, seen);
				}
			}
			if (!op.responses || Object.keys(op.responses).length === 0)
				throw new SpecError(`${where}: no responses`);
			for (const [status, r] of Object.entries(op.responses)) {
				if (!/^[1-5][0-9][0-9]$/.test(status))
					throw new SpecError(`${where}: response "${status}" (only numeric status codes are supported)`);
				lintResponse(spec, r, `${where} ${status}`, seen);
			}
		}
	}
	for (const [kind, lintOne] of [['schemas', lintSchema], ['responses', lintResponse], ['parameters', lintParam]])
		for (const [name, o] of Object.entries(spec.components[kind] || {}))
			lintOne(spec, o, `components/${kind}/${name}`, seen);
}

// ---- routes ------------------------------------------------------------------

function routes(spec) {
	const out = [];
	for (const [path, item] of Object.entries(spec.paths))
		for (const m of METHODS.filter((m) => m in item)) {
			const roles = item[m]['x-nvr-roles'];
			out.push(`${m.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '*')} ${roles.length ? roles.join(',') : '-'}`);
		}
	return out.sort();
}

// ---- one exchange --------------------------------------------------------------

// The last response's headers of a curl -D file: name (lower case) -> values.
function readHeaders(file) {
	const blocks = readFileSync(file, 'utf8').split(/\r?\n(?=HTTP\/)/);
	const lines = blocks[blocks.length - 1].split(/\r?\n/);
	const h = new Map();
	for (const line of lines.slice(1)) {
		const i = line.indexOf(':');
		if (i <= 0)
			continue;
		const k = line.slice(0, i).trim().toLowerCase();
		h.set(k, [...(h.get(k) || []), line.slice(i + 1).trim()]);
	}
	return { status: (lines[0].match(/^HTTP\/[0-9.]+ ([0-9]{3})/) || [])[1], headers: h };
}

function checkResponse(spec, r, status, headersFile, bodyFile, where, errs) {
	const { status: seen, headers } = readHeaders(headersFile);
	if (seen !== String(status))
		errs.push(`${where}: the headers file says ${seen}, not ${status}`);
	r = deref(spec, r);
	for (const [name, h0] of Object.entries(r.headers || {})) {
		const h = deref(spec, h0), values = headers.get(name.toLowerCase());
		if (!values) {
			if (h.required)
				errs.push(`${where}: header ${name} is missing`);
			continue;
		}
		for (const v of values)
			validateText(spec, h.schema, v, `${where} header ${name}`, errs);
	}
	const body = readFileSync(bodyFile);
	const type = (headers.get('content-type') || [''])[0].split(';')[0].trim().toLowerCase();
	if (!r.content) {
		if (body.length > 0)
			errs.push(`${where}: a body of ${body.length} bytes where the spec declares none`);
		return;
	}
	if (!(type in r.content)) {
		errs.push(`${where}: Content-Type "${type}" is not one of ${Object.keys(r.content)}`);
		return;
	}
	if (type !== 'application/json')
		return;
	let json;
	try {
		json = JSON.parse(body.toString('utf8'));
	} catch (e) {
		errs.push(`${where}: the body is not JSON: ${e.message}`);
		return;
	}
	validate(spec, r.content[type].schema, json, `${where} body`, errs);
}

function findOperation(spec, method, path) {
	const segs = path.split('/');
	const matches = [];
	for (const [templ, item] of Object.entries(spec.paths)) {
		const t = templ.split('/');
		if (t.length !== segs.length)
			continue;
		const args = {};
		if (t.every((s, i) => {
			const m = /^\{([^}]+)\}$/.exec(s);
			if (m)
				args[m[1]] = decodeURIComponent(segs[i]);
			return m ? segs[i] !== '' : s === segs[i];
		}))
			matches.push({ templ, item, args });
	}
	if (matches.length !== 1)
		return { error: `${path} matches ${matches.length} paths of the spec` };
	const { templ, item, args } = matches[0];
	const op = item[method.toLowerCase()];
	if (!op)
		return { error: `${method} ${templ} is not in the spec` };
	return { templ, item, op, args };
}

function check(spec, method, url, status, headersFile, bodyFile) {
	const u = new URL(url, 'https://host');
	const found = findOperation(spec, method, u.pathname);
	if (found.error)
		return [found.error];
	const { templ, item, op, args } = found;
	const where = `${method} ${templ} ${status}`;
	const errs = [], reqErrs = [];
	// The request against the parameters: a name not declared is the test's
	// or the spec's mistake; a 2xx answer to a request the spec forbids
	// means the two disagree.
	const params = [...(item.parameters || []), ...(op.parameters || [])].map((p) => deref(spec, p));
	for (const name of new Set(u.searchParams.keys()))
		if (!params.some((p) => p.in === 'query' && p.name === name))
			errs.push(`${where}: query parameter "${name}" is not declared`);
	for (const p of params) {
		const v = p.in === 'query' ? u.searchParams.get(p.name) : p.in === 'path' ? args[p.name] : undefined;
		if (p.in === 'header')
			continue;
		if (v === null || v === undefined) {
			if (p.required)
				reqErrs.push(`${p.in} parameter ${p.name} is required`);
			continue;
		}
		validateText(spec, p.schema, v, `${p.in} parameter ${p.name}`, reqErrs);
	}
	if (/^2/.test(status) && reqErrs.length)
		errs.push(`${where}: answered ${status}, but the request breaks the spec: ${reqErrs.join('; ')}`);
	const r = op.responses[String(status)];
	if (!r)
		errs.push(`${where}: status ${status} is not declared for ${method} ${templ} (declared: ${Object.keys(op.responses)})`);
	else
		checkResponse(spec, r, status, headersFile, bodyFile, where, errs);
	return errs;
}

// ---- main ----------------------------------------------------------------------

function main(argv) {
	const [cmd, file, ...rest] = argv;
	const usage = () => {
		process.stderr.write('usage: openapi_check.mjs lint|routes SPEC | check SPEC METHOD URL STATUS HEADERS BODY' +
		    ' | response SPEC NAME STATUS HEADERS BODY\n');
		return 2;
	};
	if (!file)
		return usage();
	let spec;
	try {
		spec = loadSpec(file);
		lint(spec);
	} catch (e) {
		process.stderr.write(`${file}: ${e.message}\n`);
		return 1;
	}
	let errs;
	if (cmd === 'lint' && rest.length === 0) {
		errs = [];
	} else if (cmd === 'routes' && rest.length === 0) {
		process.stdout.write(routes(spec).join('\n') + '\n');
		errs = [];
	} else if (cmd === 'check' && rest.length === 5) {
		errs = check(spec, ...rest);
	} else if (cmd === 'response' && rest.length === 4) {
		const [name, status, h, b] = rest;
		const r = (spec.components.responses || {})[name];
		errs = [];
		if (!r)
			errs.push(`components/responses/${name} does not exist`);
		else
			checkResponse(spec, r, status, h, b, `response ${name} ${status}`, errs);
	} else {
		return usage();
	}
	for (const e of errs)
		process.stderr.write(e + '\n');
	return errs.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
