/* The engine's vocabulary as data (nlu_words.h): verbs, resources,
 * states, environments, question and topic words, and which catalog
 * operation a verb on a resource is. nlu.c reads them; nothing here runs. */
#include "nlu/nlu_words.h"

const char *const nlu_verb_names[] = {"",       "start",    "stop", "hibernate", "reboot",
                                      "resize", "snapshot", "tag",  "delete",    "terminate"};

const phrase nlu_verbs[] = {
    {"shut down", V_STOP},
    {"shutdown", V_STOP},
    {"turn off", V_STOP},
    {"power off", V_STOP},
    {"switch off", V_STOP},
    {"stop", V_STOP},
    {"halt", V_STOP},
    {"hibernate", V_HIBERNATE},
    {"start", V_START},
    {"turn on", V_START},
    {"power on", V_START},
    {"switch on", V_START},
    {"boot", V_START},
    {"spin up", V_START},
    {"bring up", V_START},
    {"reboot", V_REBOOT},
    {"restart", V_REBOOT},
    {"bounce", V_REBOOT},
    {"resize", V_RESIZE},
    {"upgrade", V_RESIZE},
    {"downsize", V_RESIZE},
    {"change", V_RESIZE},
    {"snapshot", V_SNAPSHOT},
    {"back up", V_SNAPSHOT},
    {"backup", V_SNAPSHOT},
    {"take a snapshot of", V_SNAPSHOT},
    {"take snapshots of", V_SNAPSHOT},
    {"create a snapshot of", V_SNAPSHOT},
    {"create snapshots of", V_SNAPSHOT},
    {"take a backup of", V_SNAPSHOT},
    {"make a backup of", V_SNAPSHOT},
    /* Gerunds after "would you mind": "stopping" here is the verb; a
     * question never reaches this table, so "list stopping instances"
     * keeps its state. */
    {"stopping", V_STOP},
    {"shutting down", V_STOP},
    {"starting", V_START},
    {"rebooting", V_REBOOT},
    {"restarting", V_REBOOT},
    {"resizing", V_RESIZE},
    {"snapshotting", V_SNAPSHOT},
    {"tagging", V_TAG},
    {"deleting", V_DELETE},
    {"tag", V_TAG},
    {"label", V_TAG},
    {"delete", V_DELETE},
    {"remove", V_DELETE},
    {"clean up", V_DELETE},
    {"cleanup", V_DELETE},
    {"purge", V_DELETE},
    {"terminate", V_TERMINATE},
    {"destroy", V_TERMINATE},
    {"kill", V_TERMINATE},
};

const char *const nlu_resource_names[] = {
    "",        "instances", "volumes",         "snapshots",
    "buckets", "databases", "security_groups", "elastic_ips",
};

const phrase nlu_resources[] = {
    {"security groups", R_SECURITY_GROUPS},
    {"security group", R_SECURITY_GROUPS},
    {"sgs", R_SECURITY_GROUPS},
    {"elastic ips", R_ELASTIC_IPS},
    {"elastic ip", R_ELASTIC_IPS},
    {"elastic ip addresses", R_ELASTIC_IPS},
    {"eips", R_ELASTIC_IPS},
    {"eip", R_ELASTIC_IPS},
    {"instances", R_INSTANCES},
    {"instance", R_INSTANCES},
    {"servers", R_INSTANCES},
    {"server", R_INSTANCES},
    {"vms", R_INSTANCES},
    {"vm", R_INSTANCES},
    {"machines", R_INSTANCES},
    {"machine", R_INSTANCES},
    {"boxes", R_INSTANCES},
    {"hosts", R_INSTANCES},
    {"host", R_INSTANCES},
    {"box", R_INSTANCES},
    {"ec2", R_INSTANCES},
    {"volumes", R_VOLUMES},
    {"volume", R_VOLUMES},
    {"disks", R_VOLUMES},
    {"disk", R_VOLUMES},
    {"ebs", R_VOLUMES},
    {"snapshots", R_SNAPSHOTS},
    {"snapshot", R_SNAPSHOTS},
    {"buckets", R_BUCKETS},
    {"bucket", R_BUCKETS},
    {"s3", R_BUCKETS},
    {"databases", R_DATABASES},
    {"database", R_DATABASES},
    {"dbs", R_DATABASES},
    {"db", R_DATABASES},
    {"rds", R_DATABASES},
};

/* Verbs whose particle may come after the object ("turn X off"). */
const char *const nlu_phrasal[] = {"turn", "power", "switch", "shut", "spin", "bring"};

/* Rankings a query cannot express yet: a list of all would mislead. */
const char *const nlu_rankings[] = {"biggest",  "largest", "smallest", "top",
                                    "most",     "least",   "newest",   "oldest",
                                    "cheapest", "busiest", "idle",     "underused"};

/* Words that make a one-off time, which a schedule cannot express. */
const char *const nlu_one_off[] = {"tonight", "today", "tomorrow", "later", "once", "soon"};

/* Words that make a sentence a question or a read: checked first. */
const char *const nlu_question_words[] = {
    "which", "what",   "what's",  "whats", "how",  "show",   "list",   "display",  "are",
    "is",    "do",     "does",    "did",   "any",  "count",  "where",  "who",      "when",
    "why",   "tell",   "give",    "get",   "find", "see",    "view",   "describe", "has",
    "have",  "whatre", "where's", "were",  "was",  "lookup", "search", "fetch",    "enumerate",
};

const phrase nlu_states[] = {
    {"running", 1},    {"stopped", 2},  {"pending", 3},  {"stopping", 4}, {"terminated", 5},
    {"unattached", 6}, {"detached", 6}, {"orphaned", 6}, {"unused", 6},   {"dangling", 6},
    {"available", 7},  {"attached", 8}, {"in-use", 8},
};

const env_word nlu_envs[] = {
    {"dev", "dev"},         {"development", "dev"}, {"prod", "prod"},
    {"production", "prod"}, {"staging", "staging"}, {"stage", "staging"},
    {"test", "test"},       {"testing", "test"},    {"qa", "qa"},
};

/* What the topic words of server questions are. */
const char *const nlu_cost_words[] = {
    "cost",  "costs",   "spend",   "spending", "bill",    "billing", "expensive", "cheaper",
    "money", "budget",  "price",   "savings",  "save",    "pay",     "paying",    "spent",
    "paid",  "charges", "charged", "invoice",  "costing", "costly"};
const char *const nlu_security_words[] = {"public",   "exposed",    "unencrypted", "encrypted",
                                          "insecure", "vulnerable", "mfa",         "compliance",
                                          "world",    "0.0.0.0/0",  "risky",       "posture"};

/* Verb x resource -> catalog operation; the risk is the catalog's. */
const op_entry nlu_ops[] = {
    {V_START, R_INSTANCES, "ec2.start"},
    {V_STOP, R_INSTANCES, "ec2.stop"},
    {V_HIBERNATE, R_INSTANCES, "ec2.stop"},
    {V_REBOOT, R_INSTANCES, "ec2.reboot"},
    {V_RESIZE, R_INSTANCES, "ec2.resize"},
    {V_SNAPSHOT, R_INSTANCES, "ec2.snapshot_volumes"},
    {V_SNAPSHOT, R_VOLUMES, "ec2.snapshot_volumes"},
    {V_TAG, R_INSTANCES, "tags.apply"},
    {V_DELETE, R_VOLUMES, "ebs.delete_unattached"},
    {V_START, R_DATABASES, "rds.start"},
    {V_STOP, R_DATABASES, "rds.stop"},
    {V_SNAPSHOT, R_DATABASES, "rds.snapshot"},
};

const size_t nlu_nverbs = sizeof nlu_verbs / sizeof nlu_verbs[0];
const size_t nlu_nresources = sizeof nlu_resources / sizeof nlu_resources[0];
const size_t nlu_nphrasal = sizeof nlu_phrasal / sizeof nlu_phrasal[0];
const size_t nlu_nrankings = sizeof nlu_rankings / sizeof nlu_rankings[0];
const size_t nlu_none_off = sizeof nlu_one_off / sizeof nlu_one_off[0];
const size_t nlu_nquestion_words = sizeof nlu_question_words / sizeof nlu_question_words[0];
const size_t nlu_nstates = sizeof nlu_states / sizeof nlu_states[0];
const size_t nlu_nenvs = sizeof nlu_envs / sizeof nlu_envs[0];
const size_t nlu_ncost_words = sizeof nlu_cost_words / sizeof nlu_cost_words[0];
const size_t nlu_nsecurity_words = sizeof nlu_security_words / sizeof nlu_security_words[0];
const size_t nlu_nops = sizeof nlu_ops / sizeof nlu_ops[0];
