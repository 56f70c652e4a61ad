// Group 8 of npm test (tests/helpers/groups.ts says how files are grouped).
import { runGroup } from '../helpers/groups';

runGroup(8);
