// The rules page's bundle.
import { boot } from '../main';
import * as page from '../rules';

boot(page);
