// The capabilities page's bundle.
import { boot } from '../main';
import * as page from '../capabilities';

boot(page);
