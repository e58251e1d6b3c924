/*
 * tsr-addon.node: the end of a runtime process, _exit(2), as a Node-API addon (src/native/fast-exit.ts).
 * Node's own exit tears the process down first (the platform's worker threads joined, cleanup
 * hooks, koffi's among them, static destructors): about 0.5 ms of every command, 0.8 once koffi
 * is loaded, for a process whose work is done and whose output is written. Node-API only, so it
 * loads in any node (no koffi: loading koffi costs more than this saves).
 */
#include <node_api.h>
#include <unistd.h>

static napi_value exit_now(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	int32_t code = 0;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc > 0)
		napi_get_value_int32(env, argv[0], &code);
	_exit(code);
}

NAPI_MODULE_INIT()
{
	napi_value fn;
	(void)exports;
	if (napi_create_function(env, "exit", NAPI_AUTO_LENGTH, exit_now, NULL, &fn) != napi_ok)
		return NULL;
	return fn;
}
