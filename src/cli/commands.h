/*
 * commands.h - the subcommands of the mhguard tool. Each lives in its own
 * cmd_<name>.c and uses only the public API (include/mhguard/).
 * A command returns the process exit status: 0 success, 1 the work ran but
 * some items failed, 2 usage or setup error.
 */
#ifndef MHG_CLI_COMMANDS_H
#define MHG_CLI_COMMANDS_H

int mhg_cmd_screen(int argc, char **argv);
int mhg_cmd_lexicon(int argc, char **argv);
int mhg_cmd_train(int argc, char **argv);
int mhg_cmd_eval(int argc, char **argv);
int mhg_cmd_calibrate(int argc, char **argv);
int mhg_cmd_serve(int argc, char **argv);
int mhg_cmd_audit(int argc, char **argv);
int mhg_cmd_keys(int argc, char **argv);

#endif
